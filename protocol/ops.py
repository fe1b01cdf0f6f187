"""Every op of the contract: its name, who may call it, and the schema of its arguments.

The server dispatches only through this registry, so no op can be reached without both
its role check and its argument check; the shell completes op and argument names from it.
"""

from dataclasses import dataclass
from enum import StrEnum

from protocol.rules import (
    MAX_QTY,
    MAX_SUBSCRIBE_IDS,
    MIN_CLIENT_MAX_FRAME,
    ORDER_STATUSES,
    PASSWORD_MAX,
    PASSWORD_MIN,
    RECEIPT_RE,
    RECEIPT_RULE,
    RECOVERY_CODE_RE,
    RECOVERY_CODE_RULE,
    ROLES,
    STAFF_ROLES,
    USERNAME_RE,
    USERNAME_RULE,
)
from protocol.schema import (
    EMPTY,
    SECRET_CONTROLS,
    TEXT_CONTROLS,
    Bool,
    Day,
    Field,
    Int,
    ListOf,
    Record,
    Str,
    Timestamp,
    VersionSpec,
)


class Op(StrEnum):
    HELLO = "hello"
    PING = "ping"
    AUTH_REGISTER = "auth.register"
    AUTH_LOGIN = "auth.login"
    AUTH_RESUME = "auth.resume"
    AUTH_LOGOUT = "auth.logout"
    AUTH_TOTP_ENROLL = "auth.totp.enroll"
    AUTH_TOTP_CONFIRM = "auth.totp.confirm"
    AUTH_TOTP_DISABLE = "auth.totp.disable"
    AUTH_TOTP_RECOVERY_CODES = "auth.totp.recovery_codes"
    AUTH_PASSWORD_CHANGE = "auth.password.change"
    AUTH_SESSION_LIST = "auth.session.list"
    AUTH_SESSION_REVOKE = "auth.session.revoke"
    CATALOG_CATEGORIES = "catalog.categories"
    CATALOG_LIST = "catalog.list"
    CATALOG_GET = "catalog.get"
    CART_GET = "cart.get"
    CART_ADD = "cart.add"
    CART_SET = "cart.set"
    CART_REMOVE = "cart.remove"
    CART_CLEAR = "cart.clear"
    ORDER_CHECKOUT = "order.checkout"
    ORDER_LIST = "order.list"
    ORDER_GET = "order.get"
    ORDER_CANCEL = "order.cancel"
    ORDER_SHIP = "order.ship"
    ORDER_DELIVER = "order.deliver"
    ORDER_SUBSCRIBE = "order.subscribe"
    ORDER_UNSUBSCRIBE = "order.unsubscribe"
    STOCK_SUBSCRIBE = "stock.subscribe"
    STOCK_UNSUBSCRIBE = "stock.unsubscribe"
    CLERK_REGISTER_OPEN = "clerk.register.open"
    CLERK_REGISTER_CLOSE = "clerk.register.close"
    CLERK_REGISTER_GET = "clerk.register.get"
    CLERK_SALE = "clerk.sale"
    CLERK_RESTOCK = "clerk.restock"
    CLERK_ADJUST = "clerk.adjust"
    CLERK_REFUND = "clerk.refund"
    CLERK_SHORTFALL_LIST = "clerk.shortfall.list"
    CLERK_SHORTFALL_RESOLVE = "clerk.shortfall.resolve"
    ADMIN_PRODUCT_CREATE = "admin.product.create"
    ADMIN_PRODUCT_UPDATE = "admin.product.update"
    ADMIN_PRODUCT_ARCHIVE = "admin.product.archive"
    ADMIN_PRODUCT_RESTORE = "admin.product.restore"
    ADMIN_USER_LIST = "admin.user.list"
    ADMIN_USER_CREATE = "admin.user.create"
    ADMIN_USER_SET_ROLE = "admin.user.set_role"
    ADMIN_USER_DISABLE = "admin.user.disable"
    ADMIN_REPORT_SALES = "admin.report.sales"
    ADMIN_AUDIT_LIST = "admin.audit.list"


class EventName(StrEnum):
    STOCK = "stock"
    ORDER = "order"
    SERVER_SHUTDOWN = "server.shutdown"
    SESSION_ENDED = "session.ended"


ANYONE: frozenset[str] = frozenset()
SIGNED_IN = frozenset(ROLES)
CUSTOMER = frozenset({"customer"})
CLERK = frozenset({"clerk"})
ADMIN = frozenset({"admin"})


@dataclass(frozen=True)
class OpSpec:
    name: Op
    roles: frozenset[str]
    args: Record
    summary: str


MAX_MONEY = 10**12
ID = Int(1, 2**53)
QTY = Int(1, MAX_QTY)
CURSOR = Str(1, 1200)  # the cursor after a 200-character name of 4-byte characters fits
PRODUCT_NAME = Str(1, 200)
REASON = Str(1, 200, controls=TEXT_CONTROLS)
DESCRIPTION = Str(0, 4000, controls=TEXT_CONTROLS)
USERNAME = Str(3, 32, pattern=USERNAME_RE.pattern[1:-1], rule=USERNAME_RULE)
PASSWORD = Str(PASSWORD_MIN, PASSWORD_MAX, controls=SECRET_CONTROLS)
ROLE = Str(choices=ROLES)
TOTP_CODE = Str(6, 6, pattern=r"[0-9]{6}")
RECOVERY_CODE = Str(24, 29, pattern=RECOVERY_CODE_RE, rule=RECOVERY_CODE_RULE)
CURRENT_PASSWORD = Field(
    "password",
    Str(1, PASSWORD_MAX, controls=SECRET_CONTROLS),
    required=True,
    doc="the account's current password",
)
IDEMPOTENCY_KEY = Str(1, 64, pattern=r"[\x21-\x7e]+")
RECEIPT = Str(3, 29, pattern=RECEIPT_RE, rule=RECEIPT_RULE)
ONLINE_PAYMENT = Record(
    (
        Field("method", Str(choices=("card", "ewallet")), required=True),
        Field("token", Str(1, 256), required=True, doc="payment token from the provider"),
    )
)
POS_PAYMENT = Record(
    (
        Field("method", Str(choices=("cash", "card", "ewallet")), required=True),
        Field("token", Str(1, 256), doc="card/ewallet token; not used for cash"),
        Field("tendered", Int(0, MAX_MONEY), doc="cash handed over, for change"),
    )
)
PRODUCT_REF = (
    Field("product_id", ID),
    Field("sku", Str(1, 64)),
)
SUBSCRIPTION = Record(
    (
        Field("product_ids", ListOf(ID, 1, MAX_SUBSCRIBE_IDS, unique=True)),
        Field("all", Bool(only=True)),
    ),
    one_of=(("product_ids", "all"),),
)
PAGE = (Field("cursor", CURSOR), Field("limit", Int(1, 100), default=20))
ORDER_ID = Record((Field("order_id", ID, required=True),))
AUDIT_TEXT = Str(1, 64, pattern=r"[\x21-\x7e]+", rule="printable ASCII, no space")


def _spec(name: Op, roles: frozenset[str], summary: str, *fields: Field, one_of=()) -> OpSpec:
    return OpSpec(name, roles, Record(tuple(fields), one_of) if fields else EMPTY, summary)


SPECS: tuple[OpSpec, ...] = (
    _spec(
        Op.HELLO,
        ANYONE,
        "open the session: negotiate the protocol version and limits",
        Field("protocol", VersionSpec(), required=True, doc="1 or [min, max]"),
        Field("client", Str(1, 64), required=True, doc="client name and version"),
        Field("max_frame", Int(MIN_CLIENT_MAX_FRAME, 2**32 - 1), doc="largest body accepted"),
    ),
    _spec(Op.PING, ANYONE, "keep the connection alive; returns the server time"),
    _spec(
        Op.AUTH_REGISTER,
        ANYONE,
        "create a customer account (then sign in with auth.login)",
        Field("username", USERNAME, required=True),
        Field("password", PASSWORD, required=True),
    ),
    _spec(
        Op.AUTH_LOGIN,
        ANYONE,
        "sign in; returns the user and a session token",
        Field("username", Str(1, 64), required=True),
        Field("password", Str(1, PASSWORD_MAX, controls=SECRET_CONTROLS), required=True),
        Field("totp", TOTP_CODE, doc="6-digit code when 2FA is on"),
        Field("recovery_code", RECOVERY_CODE, doc="a recovery code instead of `totp`"),
    ),
    _spec(
        Op.AUTH_RESUME,
        ANYONE,
        "sign in again with a session token",
        Field("token", Str(1, 128), required=True),
    ),
    _spec(
        Op.AUTH_LOGOUT,
        SIGNED_IN,
        "end the session on every connection using it (or every session of the account)",
        Field("everywhere", Bool(), default=False, doc="end every session of the account"),
    ),
    _spec(
        Op.AUTH_TOTP_ENROLL,
        SIGNED_IN,
        "start two-factor sign-in: returns a TOTP secret",
        CURRENT_PASSWORD,
    ),
    _spec(
        Op.AUTH_TOTP_CONFIRM,
        SIGNED_IN,
        "confirm the TOTP secret with a current code; 2FA is on from then; returns recovery codes",
        CURRENT_PASSWORD,
        Field("code", TOTP_CODE, required=True),
    ),
    _spec(
        Op.AUTH_TOTP_DISABLE,
        SIGNED_IN,
        "turn two-factor sign-in off, with the password and a current or recovery code",
        CURRENT_PASSWORD,
        Field("code", TOTP_CODE),
        Field("recovery_code", RECOVERY_CODE),
        one_of=(("code", "recovery_code"),),
    ),
    _spec(
        Op.AUTH_TOTP_RECOVERY_CODES,
        SIGNED_IN,
        "new recovery codes; the earlier ones stop working",
        CURRENT_PASSWORD,
    ),
    _spec(
        Op.AUTH_PASSWORD_CHANGE,
        SIGNED_IN,
        "change the password; every other session of the account ends",
        CURRENT_PASSWORD,
        Field("new_password", PASSWORD, required=True),
    ),
    _spec(Op.AUTH_SESSION_LIST, SIGNED_IN, "the account's live sessions, newest first"),
    _spec(
        Op.AUTH_SESSION_REVOKE,
        SIGNED_IN,
        "end one of the account's sessions",
        Field("session_id", ID, required=True),
    ),
    _spec(Op.CATALOG_CATEGORIES, SIGNED_IN, "every category, parents before children"),
    _spec(
        Op.CATALOG_LIST,
        SIGNED_IN,
        "a page of products, by name then id",
        Field("category_id", ID, doc="this category and its descendants"),
        Field("query", Str(0, 100), doc="words to find in name, sku or description"),
        Field("cursor", CURSOR),
        Field("limit", Int(1, 200), default=50),
    ),
    _spec(Op.CATALOG_GET, SIGNED_IN, "one product", *PRODUCT_REF, one_of=(("product_id", "sku"),)),
    _spec(Op.CART_GET, CUSTOMER, "the signed-in customer's cart"),
    _spec(
        Op.CART_ADD,
        CUSTOMER,
        "add units of a product to the cart",
        Field("product_id", ID, required=True),
        Field("qty", QTY, default=1),
    ),
    _spec(
        Op.CART_SET,
        CUSTOMER,
        "set a line's quantity (0 removes it)",
        Field("product_id", ID, required=True),
        Field("qty", Int(0, MAX_QTY), required=True),
    ),
    _spec(Op.CART_REMOVE, CUSTOMER, "remove a line", Field("product_id", ID, required=True)),
    _spec(Op.CART_CLEAR, CUSTOMER, "empty the cart"),
    _spec(
        Op.ORDER_CHECKOUT,
        CUSTOMER,
        "buy the whole cart, all or nothing",
        Field("idempotency_key", IDEMPOTENCY_KEY, required=True),
        Field("payment", ONLINE_PAYMENT, required=True),
        Field("expected_total", Int(0, MAX_MONEY), doc="the total the customer agreed to pay"),
    ),
    _spec(
        Op.ORDER_LIST,
        SIGNED_IN,
        "orders, newest first (customers: their own)",
        *PAGE,
        Field(
            "status",
            Str(choices=ORDER_STATUSES),
        ),
    ),
    OpSpec(Op.ORDER_GET, SIGNED_IN, ORDER_ID, "one order"),
    OpSpec(Op.ORDER_CANCEL, SIGNED_IN, ORDER_ID, "cancel a paid order; returns its stock"),
    _spec(
        Op.ORDER_SHIP,
        STAFF_ROLES,
        "mark a paid order shipped, with its tracking reference",
        Field("order_id", ID, required=True),
        Field(
            "tracking",
            Str(1, 100, pattern=r"[\x20-\x7e]+", rule="printable ASCII"),
            doc="the carrier's tracking reference, shown to the customer",
        ),
    ),
    OpSpec(Op.ORDER_DELIVER, STAFF_ROLES, ORDER_ID, "mark a shipped order delivered"),
    _spec(
        Op.ORDER_SUBSCRIBE,
        STAFF_ROLES,
        "receive order events of every online order; returns the paid ones, oldest first",
        *PAGE,
    ),
    _spec(Op.ORDER_UNSUBSCRIBE, STAFF_ROLES, "stop the order events order.subscribe started"),
    OpSpec(Op.STOCK_SUBSCRIBE, SIGNED_IN, SUBSCRIPTION, "receive stock events; returns a snapshot"),
    OpSpec(Op.STOCK_UNSUBSCRIBE, SIGNED_IN, SUBSCRIPTION, "stop stock events"),
    _spec(
        Op.CLERK_REGISTER_OPEN,
        CLERK,
        "open a cash register session at a station",
        Field("station", Str(1, 64), required=True),
        Field("opening_cash", Int(0, MAX_MONEY), required=True),
    ),
    _spec(
        Op.CLERK_REGISTER_CLOSE,
        CLERK,
        "close the register: expected vs counted cash",
        Field("counted_cash", Int(0, MAX_MONEY), required=True),
    ),
    _spec(
        Op.CLERK_REGISTER_GET,
        CLERK,
        "the open register, with the cash it should hold now",
    ),
    _spec(
        Op.CLERK_SALE,
        CLERK,
        "ring up a point-of-sale order",
        Field(
            "lines",
            ListOf(
                Record(
                    (
                        *PRODUCT_REF,
                        Field("qty", QTY, required=True),
                        Field("unit_price", Int(0, MAX_MONEY), doc="offline: price charged"),
                    ),
                    one_of=(("product_id", "sku"),),
                ),
                1,
                100,
            ),
            required=True,
        ),
        Field("payment", POS_PAYMENT, required=True),
        Field("idempotency_key", IDEMPOTENCY_KEY, required=True),
        Field("offline_at", Timestamp(), doc="when the till rang it up offline"),
        Field("receipt", RECEIPT, doc="the till's receipt number, e.g. K1-000042"),
        Field("expected_total", Int(0, MAX_MONEY), doc="the total the customer agreed to pay"),
    ),
    _spec(
        Op.CLERK_RESTOCK,
        STAFF_ROLES,
        "receive units into stock",
        Field("product_id", ID, required=True),
        Field("qty", Int(1, 1_000_000), required=True),
        Field("reason", REASON, required=True),
        Field("idempotency_key", IDEMPOTENCY_KEY),
    ),
    _spec(
        Op.CLERK_ADJUST,
        STAFF_ROLES,
        "correct stock by a signed delta (count, damage, loss)",
        Field("product_id", ID, required=True),
        Field("delta", Int(-1_000_000, 1_000_000, nonzero=True), required=True),
        Field("reason", REASON, required=True),
        Field("idempotency_key", IDEMPOTENCY_KEY),
    ),
    _spec(
        Op.CLERK_REFUND,
        STAFF_ROLES,
        "refund an order, wholly or some lines; returns the stock (restock=false: not on sale)",
        Field("order_id", ID, required=True),
        Field(
            "lines",
            ListOf(Record((Field("product_id", ID, required=True), Field("qty", QTY))), 1, 100),
        ),
        Field("reason", REASON, required=True),
        Field("restock", Bool(), default=True, doc="false: the units are not put back on sale"),
        Field("idempotency_key", IDEMPOTENCY_KEY),
    ),
    _spec(
        Op.CLERK_SHORTFALL_LIST,
        STAFF_ROLES,
        "the open shortfalls: units offline sales sold that the stock did not hold",
        Field("product_id", ID),
        Field("limit", Int(1, 500), default=100),
    ),
    _spec(
        Op.CLERK_SHORTFALL_RESOLVE,
        STAFF_ROLES,
        "resolve an open shortfall with a reason, correcting the stock by delta",
        Field("shortfall_id", ID, required=True),
        Field("delta", Int(-1_000_000, 1_000_000), default=0),
        Field("reason", REASON, required=True),
        Field("idempotency_key", IDEMPOTENCY_KEY),
    ),
    _spec(
        Op.ADMIN_PRODUCT_CREATE,
        ADMIN,
        "create a product",
        Field("sku", Str(1, 64, pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*"), required=True),
        Field("name", PRODUCT_NAME, required=True),
        Field("description", DESCRIPTION, default=""),
        Field("category_id", ID, required=True),
        Field("price", Int(0, MAX_MONEY), required=True),
        Field("stock", Int(0, 1_000_000), default=0),
    ),
    _spec(
        Op.ADMIN_PRODUCT_UPDATE,
        ADMIN,
        "change a product's fields (stock changes go through clerk ops)",
        Field("product_id", ID, required=True),
        Field("name", PRODUCT_NAME),
        Field("description", DESCRIPTION),
        Field("category_id", ID),
        Field("price", Int(0, MAX_MONEY)),
    ),
    _spec(
        Op.ADMIN_PRODUCT_ARCHIVE,
        ADMIN,
        "hide a product from the catalog",
        Field("product_id", ID, required=True),
    ),
    _spec(
        Op.ADMIN_PRODUCT_RESTORE,
        ADMIN,
        "put an archived product back in the catalog",
        Field("product_id", ID, required=True),
    ),
    _spec(Op.ADMIN_USER_LIST, ADMIN, "accounts by username, with their last sign-in", *PAGE),
    _spec(
        Op.ADMIN_USER_CREATE,
        ADMIN,
        "create an account with any role",
        Field("username", USERNAME, required=True),
        Field("password", PASSWORD, required=True),
        Field("role", ROLE, required=True),
    ),
    _spec(
        Op.ADMIN_USER_SET_ROLE,
        ADMIN,
        "change an account's role",
        Field("user_id", ID, required=True),
        Field("role", ROLE, required=True),
    ),
    _spec(
        Op.ADMIN_USER_DISABLE,
        ADMIN,
        "disable (or re-enable) an account; its sessions end",
        Field("user_id", ID, required=True),
        Field("disabled", Bool(), default=True),
    ),
    _spec(
        Op.ADMIN_REPORT_SALES,
        ADMIN,
        "sales totals by day and by product, both days included",
        Field("from", Day(), required=True),
        Field("to", Day(), required=True),
        Field("top", Int(1, 1000), default=100),
    ),
    _spec(
        Op.ADMIN_AUDIT_LIST,
        ADMIN,
        "audit entries, newest first, filtered",
        *PAGE,
        Field("action", AUDIT_TEXT, doc="entries whose action starts with this"),
        Field("user_id", ID, doc="entries of this user"),
        Field("username", Str(1, 64), doc="entries of the user of this name"),
        Field("target", AUDIT_TEXT, doc="entries about this target, e.g. product:12"),
        Field("from", Day(), doc="first day (UTC) of the entries"),
        Field("to", Day(), doc="last day (UTC) of the entries"),
    ),
)

REGISTRY: dict[str, OpSpec] = {spec.name: spec for spec in SPECS}
