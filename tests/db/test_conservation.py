from db.conservation import check_conservation
from db.models import Order, OrderLine, Product, Shortfall, StockMovement


def sell(user, product, qty, status="paid"):
    """Write what a checkout writes: the order, its line and the sale movement."""
    order = Order.create(
        customer=user, status=status, channel="online", total=qty * product.price, currency="IDR"
    )
    OrderLine.create(
        order=order,
        product=product,
        sku=product.sku,
        name=product.name,
        qty=qty,
        unit_price=product.price,
        line_total=qty * product.price,
    )
    move(product, "sale", -qty, order=order)
    return order


def move(product, kind, delta, **fields):
    Product.update(stock=Product.stock + delta, version=Product.version + 1).where(
        Product.id == product.id
    ).execute()
    after = Product.get_by_id(product.id).stock
    StockMovement.create(product=product, kind=kind, delta=delta, stock_after=after, **fields)


def test_consistent_history_passes(database, make_user, make_product):
    user, tea, rice = make_user(), make_product(stock=10), make_product(stock=5)
    assert check_conservation(database) == []
    sell(user, tea, 3)
    cancelled = sell(user, rice, 2, status="cancelled")
    move(rice, "cancel", 2, order=cancelled)
    refunded = sell(user, tea, 2, status="refunded")
    OrderLine.update(refunded_qty=1).where(OrderLine.order == refunded).execute()
    move(tea, "refund", 1, order=refunded)
    move(tea, "restock", 24, reason="delivery")
    move(rice, "adjustment", -1, reason="torn bag")
    assert check_conservation(database) == []


def test_detects_tampered_stock(database, make_product):
    tea = make_product(stock=10, sku="TEH-1")
    Product.update(stock=12).where(Product.id == tea.id).execute()
    assert check_conservation(database) == [
        f"product {tea.id} (TEH-1): stock is 12 but initial stock 10 + movements +0 = 10"
    ]


def test_detects_sale_without_movement_and_missing_cancel(database, make_user, make_product):
    user, tea = make_user(), make_product(stock=10)
    order = Order.create(customer=user, status="paid", channel="online", total=0, currency="IDR")
    OrderLine.create(
        order=order, product=tea, sku=tea.sku, name=tea.name, qty=2, unit_price=0, line_total=0
    )
    cancelled = sell(user, tea, 1, status="cancelled")
    problems = check_conservation(database)
    assert problems == [
        f"order {order.id}, product {tea.id}: sale movements total +0, its lines call for -2",
        f"order {cancelled.id}, product {tea.id}: cancel movements total +0, its lines call for +1",
    ]


def test_detects_wrong_signs_and_orphan_sales(database, make_product):
    tea = make_product(stock=10)
    move(tea, "restock", -1)
    move(tea, "sale", -1)
    problems = check_conservation(database)
    assert len(problems) == 2
    assert "(restock of product" in problems[0] and "delta -1" in problems[0]
    assert "(sale of product" in problems[1] and "names no order" in problems[1]


def sell_offline(user, product, qty):
    """What an offline sale of more than the stock writes: the units missing as a shortfall
    movement and row, then the sale of every unit, leaving the stock at 0."""
    short = qty - Product.get_by_id(product.id).stock
    order = Order.create(clerk=user, status="completed", channel="pos", total=0, currency="IDR")
    OrderLine.create(
        order=order,
        product=product,
        sku=product.sku,
        name=product.name,
        qty=qty,
        unit_price=0,
        line_total=0,
    )
    move(product, "shortfall", short, order=order)
    move(product, "sale", -qty, order=order)
    return order, Shortfall.create(product=product, order=order, qty=short)


def test_an_offline_sale_with_a_shortfall_conserves_stock(database, make_user, make_product):
    clerk, tea = make_user(role="clerk"), make_product(stock=2)
    sell_offline(clerk, tea, 5)
    assert Product.get_by_id(tea.id).stock == 0
    assert check_conservation(database) == []


def test_detects_a_shortfall_its_movements_do_not_match(database, make_user, make_product):
    clerk, tea = make_user(role="clerk"), make_product(stock=2)
    order, short = sell_offline(clerk, tea, 5)
    Shortfall.update(qty=1).where(Shortfall.id == short.id).execute()
    assert check_conservation(database) == [
        f"order {order.id}, product {tea.id}: shortfall movements total +3, "
        "its shortfall records +1"
    ]


def test_detects_a_shortfall_movement_that_takes_stock_or_names_no_order(database, make_product):
    tea = make_product(stock=10)
    move(tea, "shortfall", -1)
    problems = check_conservation(database)
    assert len(problems) == 1 and "(shortfall of product" in problems[0], problems
