"""Screens of the warung app: sign-in, the home screen of each role, and modal dialogs."""
