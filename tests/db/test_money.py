from db.models import Order, OrderLine, Payment, Refund, RefundLine, Register, utcnow
from db.money import check_money


def pos_sale(register, product, qty, method="cash", status="completed"):
    """Write what a point-of-sale sale writes (but the stock): order, line, payment."""
    total = qty * product.price
    order = Order.create(
        register=register, status=status, channel="pos", total=total, currency="IDR"
    )
    OrderLine.create(
        order=order,
        product=product,
        sku=product.sku,
        name=product.name,
        qty=qty,
        unit_price=product.price,
        line_total=total,
    )
    Payment.create(order=order, provider=method, method=method, amount=total, status="captured")
    return order


def refund(order, user, product, qty, amount, register=None, method="cash"):
    made = Refund.create(
        order=order, user=user, register=register, method=method, amount=amount, reason="rusak"
    )
    RefundLine.create(refund=made, product=product, qty=qty, amount=amount)
    OrderLine.update(refunded_qty=OrderLine.refunded_qty + qty).where(
        OrderLine.order == order, OrderLine.product == product
    ).execute()
    return made


def close(register, expected, counted=0):
    Register.update(
        status="closed", closed_at=utcnow(), counted_cash=counted, expected_cash=expected
    ).where(Register.id == register.id).execute()


def test_a_consistent_till_and_refunds_pass(database, make_user, make_product):
    clerk, tea, rice = make_user(role="clerk"), make_product(price=1000), make_product(price=500)
    till = Register.create(station="kasir-1", clerk=clerk, opening_cash=10000)
    cash = pos_sale(till, tea, 3)
    pos_sale(till, rice, 2, method="card")
    pos_sale(till, rice, 1, status="cancelled")
    refund(cash, clerk, tea, 1, 1000, register=till)
    refund(cash, clerk, tea, 2, 2000)  # made with no till open: not this till's cash
    close(till, expected=10000 + 3000 - 1000)  # neither the card sale nor the cancelled one
    assert check_money(database) == []


def test_finds_refunds_beyond_the_line_and_a_till_that_does_not_add_up(
    database, make_user, make_product
):
    clerk, tea, rice = make_user(role="clerk"), make_product(price=1000), make_product()
    till = Register.create(station="kasir-1", clerk=clerk, opening_cash=10000)
    order = pos_sale(till, tea, 2)
    refund(order, clerk, tea, 1, 1500, register=till)
    refund(order, clerk, tea, 1, 1000)
    stray = Refund.create(order=order, user=clerk, method="cash", amount=0, reason="x")
    RefundLine.create(refund=stray, product=rice, qty=1, amount=0)
    lost = Refund.create(order=order, user=clerk, method="cash", amount=700, reason="x")
    close(till, expected=10000)
    assert check_money(database) == [
        f"order {order.id}, product {tea.id}: refunds give back 2 units and 2500 "
        "of a line of 2 units for 2000 whose refunded_qty is 2",
        f"refund {stray.id} gives back product {rice.id}, which order {order.id} does not have",
        f"refund {lost.id} is for 700 but its lines add up to 0",
        f"register {till.id}: expected cash is 10000 but opening cash 10000 "
        "+ cash sales 2000 - cash refunds 1500 = 10500",
    ]


def test_finds_refunded_units_without_their_refund(database, make_user, make_product):
    tea = make_product(price=1000)
    order = pos_sale(None, tea, 2)
    OrderLine.update(refunded_qty=1).where(OrderLine.order == order).execute()
    assert check_money(database) == [
        f"order {order.id}, product {tea.id}: refunds give back 0 units and 0 "
        "of a line of 2 units for 2000 whose refunded_qty is 1"
    ]
