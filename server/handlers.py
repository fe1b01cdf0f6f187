"""The op table: which service method answers which op."""

from __future__ import annotations

from protocol.ops import Op
from server.dispatch import Handler
from server.services.admin_products import AdminProductService
from server.services.audit_list import AuditListService
from server.services.auth import AuthService
from server.services.cart import CartService
from server.services.catalog import CatalogService
from server.services.inventory import InventoryService
from server.services.orders import OrderService
from server.services.people import PeopleService
from server.services.refund import RefundService
from server.services.register import RegisterService
from server.services.sale import SaleService
from server.services.sales_report import SalesReportService
from server.services.session import SessionService
from server.services.shortfalls import ShortfallService
from server.services.staff_feed import StaffFeedService
from server.services.stock_feed import StockFeedService


def handlers(
    session: SessionService,
    auth: AuthService,
    catalog: CatalogService,
    cart: CartService,
    orders: OrderService,
    stock: StockFeedService,
    staff: StaffFeedService,
    inventory: InventoryService,
    refunds: RefundService,
    shortfalls: ShortfallService,
    registers: RegisterService,
    sales: SaleService,
    admin_products: AdminProductService,
    report: SalesReportService,
    audit: AuditListService,
    people: PeopleService,
) -> dict[str, Handler]:
    return {
        Op.HELLO: session.hello,
        Op.PING: session.ping,
        Op.AUTH_REGISTER: auth.register,
        Op.AUTH_LOGIN: auth.login,
        Op.AUTH_RESUME: auth.resume,
        Op.AUTH_LOGOUT: auth.logout,
        Op.AUTH_TOTP_ENROLL: auth.totp.enroll,
        Op.AUTH_TOTP_CONFIRM: auth.totp.confirm,
        Op.AUTH_TOTP_DISABLE: auth.totp.disable,
        Op.AUTH_TOTP_RECOVERY_CODES: auth.totp.recovery_codes,
        Op.AUTH_PASSWORD_CHANGE: auth.password.change,
        Op.AUTH_SESSION_LIST: auth.accounts.list,
        Op.AUTH_SESSION_REVOKE: auth.accounts.revoke,
        Op.CATALOG_CATEGORIES: catalog.categories,
        Op.CATALOG_LIST: catalog.list,
        Op.CATALOG_GET: catalog.get,
        Op.CART_GET: cart.get,
        Op.CART_ADD: cart.add,
        Op.CART_SET: cart.set,
        Op.CART_REMOVE: cart.remove,
        Op.CART_CLEAR: cart.clear,
        Op.ORDER_CHECKOUT: orders.checkout,
        Op.ORDER_LIST: orders.list,
        Op.ORDER_GET: orders.get,
        Op.ORDER_CANCEL: orders.cancel,
        Op.ORDER_SHIP: orders.ship,
        Op.ORDER_DELIVER: orders.deliver,
        Op.ORDER_SUBSCRIBE: staff.subscribe,
        Op.ORDER_UNSUBSCRIBE: staff.unsubscribe,
        Op.STOCK_SUBSCRIBE: stock.subscribe,
        Op.STOCK_UNSUBSCRIBE: stock.unsubscribe,
        Op.CLERK_RESTOCK: inventory.restock,
        Op.CLERK_ADJUST: inventory.adjust,
        Op.CLERK_REFUND: refunds.refund,
        Op.CLERK_SHORTFALL_LIST: shortfalls.list,
        Op.CLERK_SHORTFALL_RESOLVE: shortfalls.resolve,
        Op.CLERK_REGISTER_OPEN: registers.open,
        Op.CLERK_REGISTER_CLOSE: registers.close,
        Op.CLERK_REGISTER_GET: registers.get,
        Op.CLERK_SALE: sales.sale,
        Op.ADMIN_PRODUCT_CREATE: admin_products.create,
        Op.ADMIN_PRODUCT_UPDATE: admin_products.update,
        Op.ADMIN_PRODUCT_ARCHIVE: admin_products.archive,
        Op.ADMIN_PRODUCT_RESTORE: admin_products.restore,
        Op.ADMIN_REPORT_SALES: report.sales,
        Op.ADMIN_AUDIT_LIST: audit.list,
        Op.ADMIN_USER_LIST: people.list,
        Op.ADMIN_USER_CREATE: people.create,
        Op.ADMIN_USER_SET_ROLE: people.set_role,
        Op.ADMIN_USER_DISABLE: people.disable,
    }
