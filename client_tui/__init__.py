"""`warung`, the terminal client: a Textual app over the asyncio SDK (`protocol.client`)."""
