//! Order emails: confirmation, shipping update, delivery and cancellation, each to the order's
//! user (looked up through accounts, see [`crate::Notifier`]). The cancellation is one renderer
//! ([`cancellation_email`]) for both events that send it: `OrderCancelled` and payments'
//! `PaymentRefunded` with reason `order_cancelled` ([`super::payments`]).
//!
//! Amounts are integer cents rendered with [`Cents`]' display and a `$` ([`usd`], [`money`]);
//! dates are the UTC date in en-US long form ("Friday, May 1, 2026"). Every value of the order
//! (product names, the address, the coupon code, a cancellation note, tracking details) is
//! escaped in the HTML part.

use shop_aws::messages::orders::{Address, Line, OrderCancelled, OrderConfirmed, OrderDelivered, OrderShipped, OrderSnapshot};
use shop_core::money::Cents;
use shop_core::time::Timestamp;
use time::UtcOffset;
use uuid::Uuid;

use super::{BRAND, Email, ForOrderUser, Links, Recipient, SUPPORT_EMAIL, button, escape_html, layout, one_line};

macro_rules! order_user {
    ($($event:ty),*) => {
        $(impl ForOrderUser for $event {
            fn order_id(&self) -> Uuid {
                self.order.order_id
            }
            fn user_id(&self) -> Uuid {
                self.order.user_id
            }
        })*
    };
}
order_user!(OrderConfirmed, OrderShipped, OrderDelivered, OrderCancelled);

/// `OrderConfirmed` → `"Order Confirmation #<n> - Skyshop"`: the lines, the totals, the shipping
/// address, the order date and a link to the order.
pub fn order_confirmation(event: &OrderConfirmed, to: &Recipient, links: &Links) -> Email {
    let order = &event.order;
    let number = one_line(&order.order_number);
    let url = links.order(order.order_id);
    let date = long_date(order.placed_at);
    let payment = payment_method(&order.payment_method);
    let text = format!(
        "Hi {name},\n\n\
         Thank you for your order! We have received order #{number}, placed on {date}, and will let you know when it ships.\n\n\
         {lines}\n\
         {totals}\n\
         Payment: {payment}\n\n\
         Shipping to:\n{address}\n\n\
         View your order: {url}\n\n\
         Thank you for shopping with {BRAND},\nThe {BRAND} team\n",
        name = to.first_name,
        lines = text_lines(&order.items),
        totals = text_totals(order),
        address = text_address(&order.shipping_address),
    );
    let body = format!(
        "<p>Hi {name},</p>\n\
         <p>Thank you for your order! We have received order <strong>#{number}</strong>, placed on {date}, \
         and will let you know when it ships.</p>\n\
         {table}\n\
         <p>Payment: {payment}</p>\n\
         {address}\n\
         {button}\n\
         <p>Thank you for shopping with {BRAND},<br>The {BRAND} team</p>",
        name = escape_html(&to.first_name),
        number = escape_html(&number),
        date = escape_html(&date),
        table = html_lines_and_totals(order),
        payment = escape_html(payment),
        address = html_address("Shipping to", &order.shipping_address),
        button = button(&url, "View your order"),
    );
    let subject = format!("Order Confirmation #{number} - {BRAND}");
    Email { to: to.email.clone(), html: layout(&subject, &body), subject, text }
}

/// `OrderShipped` → `"Shipping Update for Order #<n> - Skyshop"`, with the carrier and tracking
/// number when the event has them.
pub fn order_shipped(event: &OrderShipped, to: &Recipient, links: &Links) -> Email {
    let order = &event.order;
    let number = one_line(&order.order_number);
    let url = links.order(order.order_id);
    let date = long_date(event.shipped_at);
    let present = |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(one_line);
    let (carrier, tracking) = (present(&event.carrier), present(&event.tracking_number));
    let mut text_tracking = String::new();
    let mut html_tracking = String::new();
    if let Some(carrier) = &carrier {
        text_tracking.push_str(&format!("Carrier: {carrier}\n"));
        html_tracking.push_str(&format!("Carrier: <strong>{}</strong><br>", escape_html(carrier)));
    }
    if let Some(tracking) = &tracking {
        text_tracking.push_str(&format!("Tracking number: {tracking}\n"));
        html_tracking.push_str(&format!("Tracking number: <strong>{}</strong><br>", escape_html(tracking)));
    }
    if text_tracking.is_empty() {
        text_tracking.push_str("Tracking details are not available for this shipment.\n");
        html_tracking.push_str("Tracking details are not available for this shipment.");
    }
    let text = format!(
        "Hi {name},\n\n\
         Good news: your order #{number} shipped on {date}.\n\n\
         {text_tracking}\n\
         {lines}\n\
         Shipping to:\n{address}\n\n\
         View your order: {url}\n\n\
         The {BRAND} team\n",
        name = to.first_name,
        lines = text_lines(&order.items),
        address = text_address(&order.shipping_address),
    );
    let body = format!(
        "<p>Hi {name},</p>\n\
         <p>Good news: your order <strong>#{number}</strong> shipped on {date}.</p>\n\
         <p>{tracking}</p>\n\
         {items}\n\
         {address}\n\
         {button}\n\
         <p>The {BRAND} team</p>",
        name = escape_html(&to.first_name),
        number = escape_html(&number),
        date = escape_html(&date),
        tracking = html_tracking.trim_end_matches("<br>"),
        items = html_item_list(&order.items),
        address = html_address("Shipping to", &order.shipping_address),
        button = button(&url, "Track your order"),
    );
    let subject = format!("Shipping Update for Order #{number} - {BRAND}");
    Email { to: to.email.clone(), html: layout(&subject, &body), subject, text }
}

/// `OrderDelivered` → `"Order #<n> Delivered - Skyshop"`.
pub fn order_delivered(event: &OrderDelivered, to: &Recipient, links: &Links) -> Email {
    let order = &event.order;
    let number = one_line(&order.order_number);
    let url = links.order(order.order_id);
    let date = long_date(event.delivered_at);
    let text = format!(
        "Hi {name},\n\n\
         Your order #{number} was delivered on {date}.\n\n\
         {lines}\n\
         Delivered to:\n{address}\n\n\
         View your order: {url}\n\n\
         If anything is missing or not as expected, write to us at {SUPPORT_EMAIL}.\n\n\
         Enjoy,\nThe {BRAND} team\n",
        name = to.first_name,
        lines = text_lines(&order.items),
        address = text_address(&order.shipping_address),
    );
    let body = format!(
        "<p>Hi {name},</p>\n\
         <p>Your order <strong>#{number}</strong> was delivered on {date}.</p>\n\
         {items}\n\
         {address}\n\
         {button}\n\
         <p>If anything is missing or not as expected, write to us at \
         <a href=\"mailto:{SUPPORT_EMAIL}\">{SUPPORT_EMAIL}</a>.</p>\n\
         <p>Enjoy,<br>The {BRAND} team</p>",
        name = escape_html(&to.first_name),
        number = escape_html(&number),
        date = escape_html(&date),
        items = html_item_list(&order.items),
        address = html_address("Delivered to", &order.shipping_address),
        button = button(&url, "View your order"),
    );
    let subject = format!("Order #{number} Delivered - {BRAND}");
    Email { to: to.email.clone(), html: layout(&subject, &body), subject, text }
}

/// `OrderCancelled` → `"Order #<n> Cancelled - Skyshop"` (see [`cancellation_email`]), with the reason,
/// the lines and the refund amount when the event has one. A paid card order's cancellation is
/// not sent from here: payments refunds it and its `PaymentRefunded` (reason `order_cancelled`)
/// sends the same email with the amount ([`crate::Notifier`] acknowledges the event unsent).
pub fn order_cancelled(event: &OrderCancelled, to: &Recipient, links: &Links) -> Email {
    let order = &event.order;
    let cancellation = Cancellation {
        order_id: order.order_id,
        order_number: &order.order_number,
        cancelled_at: Some(event.cancelled_at),
        reason: &event.reason,
        refund: event.refund_amount.map(|cents| (cents, order.currency.as_str())),
        items: &order.items,
    };
    cancellation_email(&cancellation, to, links)
}

/// Whether payments refunds this cancelled order (and so sends its cancellation email): a card
/// order cancelled after it was paid (from any status but `PENDING`).
pub fn refunded_by_payments(event: &OrderCancelled) -> bool {
    event.order.payment_method == "card" && event.previous_status != "PENDING"
}

/// What a cancellation email says, taken from either event that sends one: `OrderCancelled`
/// (unpaid card orders, cod orders) or payments' `PaymentRefunded` with reason `order_cancelled`,
/// which knows only the order's id and number, the amount and the cancellation note.
#[derive(Debug, Clone, Copy)]
pub struct Cancellation<'a> {
    pub order_id: Uuid,
    pub order_number: &'a str,
    /// When the order was cancelled, when the event says (a refund knows only when it was made).
    pub cancelled_at: Option<Timestamp>,
    /// `customer_request`, `payment_timeout`, an admin's note, or empty (see [`cancellation_reason`]).
    pub reason: &'a str,
    /// Cents refunded and their currency, when money went back.
    pub refund: Option<(i64, &'a str)>,
    /// The order's lines, when the event carries them (none: no list).
    pub items: &'a [Line],
}

/// `"Order #<n> Cancelled - Skyshop"`: the reason in words, the refund when there is one, the
/// lines when known, a link to the order.
pub fn cancellation_email(cancellation: &Cancellation<'_>, to: &Recipient, links: &Links) -> Email {
    let number = one_line(cancellation.order_number);
    let url = links.order(cancellation.order_id);
    let date = cancellation.cancelled_at.map(|at| format!(" on {}", long_date(at))).unwrap_or_default();
    let reason = cancellation_reason(cancellation.reason);
    let refund = cancellation.refund.map(|(cents, currency)| {
        format!(
            "A refund of {} has been issued to your original payment method; it can take 5 to 10 business days to appear.",
            money(cents, currency)
        )
    });
    let (text_items, html_items) = match cancellation.items {
        [] => (String::new(), String::new()),
        items => (format!("{}\n", text_lines(items)), format!("{}\n", html_item_list(items))),
    };
    let text = format!(
        "Hi {name},\n\n\
         Your order #{number} was cancelled{date}.\n\
         {reason_text}\
         {refund_text}\n\
         {text_items}\
         View your order: {url}\n\
         Continue shopping: {shop}\n\n\
         Questions? Write to us at {SUPPORT_EMAIL}.\n\n\
         The {BRAND} team\n",
        name = to.first_name,
        reason_text = reason.as_deref().map(|r| format!("{r}\n")).unwrap_or_default(),
        refund_text = refund.as_deref().map(|r| format!("{r}\n")).unwrap_or_default(),
        shop = links.shop(),
    );
    let body = format!(
        "<p>Hi {name},</p>\n\
         <p>Your order <strong>#{number}</strong> was cancelled{date}.</p>\n\
         {reason_html}\
         {refund_html}\
         {html_items}\
         {button}\n\
         <p>Continue shopping: <a href=\"{shop}\">{shop}</a></p>\n\
         <p>Questions? Write to us at <a href=\"mailto:{SUPPORT_EMAIL}\">{SUPPORT_EMAIL}</a>.</p>\n\
         <p>The {BRAND} team</p>",
        name = escape_html(&to.first_name),
        number = escape_html(&number),
        date = escape_html(&date),
        reason_html = reason.as_deref().map(|r| format!("<p>{}</p>\n", escape_html(r))).unwrap_or_default(),
        refund_html = refund.as_deref().map(|r| format!("<p>{}</p>\n", escape_html(r))).unwrap_or_default(),
        button = button(&url, "View your order"),
        shop = escape_html(&links.shop()),
    );
    let subject = format!("Order #{number} Cancelled - {BRAND}");
    Email { to: to.email.clone(), html: layout(&subject, &body), subject, text }
}

/// The customer's wording of a cancellation reason: `payment_timeout` and `customer_request`
/// are explained, anything else (an admin's note) is quoted; an empty reason says nothing.
pub fn cancellation_reason(reason: &str) -> Option<String> {
    match reason.trim() {
        "" => None,
        "payment_timeout" => Some("The payment was not completed in time, so the order was cancelled automatically.".to_owned()),
        "customer_request" => Some("It was cancelled at your request.".to_owned()),
        note => Some(format!("Reason: {note}")),
    }
}

/// `$19.99`, `-$5.00`.
pub fn usd(cents: i64) -> String {
    let amount = Cents(cents).to_string();
    match amount.strip_prefix('-') {
        Some(abs) => format!("-${abs}"),
        None => format!("${amount}"),
    }
}

/// An amount in `currency` (ISO 4217, any case): `usd` as [`usd`] shows it (`$19.99`), as every
/// order email does; another currency as `19.99 EUR`.
pub fn money(cents: i64, currency: &str) -> String {
    if currency.eq_ignore_ascii_case("usd") { usd(cents) } else { format!("{} {}", Cents(cents), one_line(currency.trim()).to_uppercase()) }
}

/// The UTC date in en-US long form: "Friday, May 1, 2026".
pub fn long_date(at: Timestamp) -> String {
    let utc = at.to_offset(UtcOffset::UTC);
    format!("{}, {} {}, {}", utc.weekday(), utc.month(), utc.day(), utc.year())
}

fn payment_method(method: &str) -> &str {
    match method {
        "card" => "Card",
        "cod" => "Cash on delivery",
        other => other,
    }
}

fn line_total(price: i64, quantity: u32) -> i64 {
    price.saturating_mul(i64::from(quantity))
}

/// "Discount" or "Discount (CODE)".
fn discount_label(order: &OrderSnapshot) -> String {
    match order.coupon_code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => format!("Discount ({})", one_line(code)),
        None => "Discount".to_owned(),
    }
}

fn shipping_amount(order: &OrderSnapshot) -> String {
    if order.shipping_cost == 0 { "Free".to_owned() } else { usd(order.shipping_cost) }
}

/// One line per item: "2 x Lamp @ $19.99 = $39.98".
fn text_lines(items: &[Line]) -> String {
    items
        .iter()
        .map(|line| format!("- {} x {} @ {} = {}\n", line.quantity, line.name, usd(line.price), usd(line_total(line.price, line.quantity))))
        .collect()
}

fn text_totals(order: &OrderSnapshot) -> String {
    let mut out = format!("Subtotal: {}\n", usd(order.subtotal));
    if order.discount != 0 {
        out.push_str(&format!("{}: -{}\n", discount_label(order), usd(order.discount)));
    }
    out.push_str(&format!("Shipping: {}\nTax: {}\nTotal: {}\n", shipping_amount(order), usd(order.tax), usd(order.total)));
    out
}

fn address_lines(address: &Address) -> Vec<String> {
    let mut lines = vec![format!("{} {}", address.first_name, address.last_name), address.address1.clone()];
    if let Some(address2) = address.address2.as_deref().filter(|a| !a.trim().is_empty()) {
        lines.push(address2.to_owned());
    }
    lines.push(format!("{}, {} {}", address.city, address.state, address.postal_code));
    lines.push(address.country.clone());
    lines.into_iter().map(|l| one_line(l.trim())).collect()
}

fn text_address(address: &Address) -> String {
    address_lines(address).join("\n")
}

fn html_address(heading: &str, address: &Address) -> String {
    let lines: Vec<String> = address_lines(address).iter().map(|l| escape_html(l)).collect();
    format!("<p><strong>{}:</strong><br>{}</p>", escape_html(heading), lines.join("<br>"))
}

const CELL: &str = "padding:6px 8px;border-bottom:1px solid #e5e5ea";

/// The items table with its totals rows.
fn html_lines_and_totals(order: &OrderSnapshot) -> String {
    let mut rows = String::new();
    for line in &order.items {
        rows.push_str(&format!(
            "<tr><td style=\"{CELL}\">{name}</td><td style=\"{CELL};text-align:right\">{quantity}</td>\
             <td style=\"{CELL};text-align:right\">{price}</td><td style=\"{CELL};text-align:right\">{total}</td></tr>\n",
            name = escape_html(&line.name),
            quantity = line.quantity,
            price = escape_html(&usd(line.price)),
            total = escape_html(&usd(line_total(line.price, line.quantity))),
        ));
    }
    let total_row = |label: &str, amount: &str, bold: bool| {
        let (open, close) = if bold { ("<strong>", "</strong>") } else { ("", "") };
        format!(
            "<tr><td colspan=\"3\" style=\"padding:4px 8px;text-align:right\">{open}{label}{close}</td>\
             <td style=\"padding:4px 8px;text-align:right\">{open}{amount}{close}</td></tr>\n",
            label = escape_html(label),
            amount = escape_html(amount),
        )
    };
    rows.push_str(&total_row("Subtotal", &usd(order.subtotal), false));
    if order.discount != 0 {
        rows.push_str(&total_row(&discount_label(order), &format!("-{}", usd(order.discount)), false));
    }
    rows.push_str(&total_row("Shipping", &shipping_amount(order), false));
    rows.push_str(&total_row("Tax", &usd(order.tax), false));
    rows.push_str(&total_row("Total", &usd(order.total), true));
    format!(
        "<table style=\"width:100%;border-collapse:collapse;margin:16px 0\">\n\
         <tr><th style=\"{CELL};text-align:left\">Item</th><th style=\"{CELL};text-align:right\">Qty</th>\
         <th style=\"{CELL};text-align:right\">Price</th><th style=\"{CELL};text-align:right\">Total</th></tr>\n\
         {rows}</table>"
    )
}

/// The items as a list: "2 × Lamp".
fn html_item_list(items: &[Line]) -> String {
    let items: String = items.iter().map(|line| format!("<li>{} &times; {}</li>", line.quantity, escape_html(&line.name))).collect();
    format!("<ul>{items}</ul>")
}

#[cfg(test)]
mod tests {
    use shop_aws::messages::orders::{CancelledBy, Line};
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;

    fn links() -> Links {
        Links::new("https://shop.example.com/")
    }

    fn to() -> Recipient {
        Recipient { user_id: Uuid::from_u128(1), email: "ann@example.com".into(), first_name: "Ann".into() }
    }

    fn order() -> OrderSnapshot {
        OrderSnapshot {
            order_id: Uuid::from_u128(42),
            order_number: "SKY-20260501-0001".into(),
            user_id: Uuid::from_u128(1),
            status: "CONFIRMED".into(),
            payment_method: "card".into(),
            items: vec![
                Line {
                    product_id: Uuid::from_u128(7),
                    seller_id: Uuid::from_u128(8),
                    name: "<script>alert(1)</script> Lamp & \"Shade\"".into(),
                    sku: "LMP-1".into(),
                    price: 1999,
                    quantity: 2,
                    image: None,
                },
                Line {
                    product_id: Uuid::from_u128(9),
                    seller_id: Uuid::from_u128(8),
                    name: "Bulb".into(),
                    sku: "BLB-1".into(),
                    price: 250,
                    quantity: 1,
                    image: None,
                },
            ],
            subtotal: 4248,
            discount: 500,
            shipping_cost: 999,
            tax: 299,
            total: 5046,
            currency: "usd".into(),
            coupon_code: Some("SAVE5".into()),
            shipping_address: Address {
                first_name: "Ann".into(),
                last_name: "<O'Neil>".into(),
                address1: "1 Main St".into(),
                address2: Some("Apt <2>".into()),
                city: "Springfield".into(),
                state: "IL".into(),
                postal_code: "62701".into(),
                country: "US".into(),
                phone: Some("555-0100".into()),
            },
            placed_at: datetime!(2026-05-01 23:30 UTC).into(),
        }
    }

    #[test]
    fn money_and_dates_read_naturally() {
        assert_eq!(usd(1999), "$19.99");
        assert_eq!(usd(5), "$0.05");
        assert_eq!(usd(-500), "-$5.00");
        assert_eq!(long_date(datetime!(2026-05-01 23:30 UTC).into()), "Friday, May 1, 2026");
        assert_eq!(long_date(datetime!(2026-05-01 23:30 -02:00).into()), "Saturday, May 2, 2026", "the UTC date");
    }

    #[test]
    fn the_confirmation_lists_lines_totals_address_date_and_link() {
        let event =
            OrderConfirmed { order: order(), payment_id: Some("pi_1".into()), confirmed_at: datetime!(2026-05-02 08:00 UTC).into() };
        let email = order_confirmation(&event, &to(), &links());
        assert_eq!(email.to, "ann@example.com");
        assert_eq!(email.subject, "Order Confirmation #SKY-20260501-0001 - Skyshop");
        let text = &email.text;
        assert!(text.starts_with("Hi Ann,\n"), "{text}");
        assert!(text.contains("order #SKY-20260501-0001, placed on Friday, May 1, 2026"), "{text}");
        assert!(text.contains("- 2 x <script>alert(1)</script> Lamp & \"Shade\" @ $19.99 = $39.98\n"), "{text}");
        assert!(text.contains("- 1 x Bulb @ $2.50 = $2.50\n"), "{text}");
        assert!(text.contains("Subtotal: $42.48\nDiscount (SAVE5): -$5.00\nShipping: $9.99\nTax: $2.99\nTotal: $50.46\n"), "{text}");
        assert!(text.contains("Shipping to:\nAnn <O'Neil>\n1 Main St\nApt <2>\nSpringfield, IL 62701\nUS\n"), "{text}");
        assert!(!text.contains("555-0100"), "the phone is not mailed: {text}");
        assert!(text.contains("View your order: https://shop.example.com/account/orders/00000000-0000-0000-0000-00000000002a"));

        let html = &email.html;
        assert!(!html.contains("<script>") && !html.contains("<O'Neil>") && !html.contains("Apt <2>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; Lamp &amp; &quot;Shade&quot;"), "{html}");
        assert!(html.contains("Ann &lt;O&#39;Neil&gt;<br>1 Main St<br>Apt &lt;2&gt;<br>"), "{html}");
        assert!(html.contains(">$39.98<") && html.contains(">-$5.00<") && html.contains("<strong>$50.46</strong>"), "{html}");
        assert!(html.contains("href=\"https://shop.example.com/account/orders/00000000-0000-0000-0000-00000000002a\""), "{html}");
    }

    #[test]
    fn the_confirmation_without_discount_and_with_free_shipping() {
        let mut order = order();
        (order.discount, order.coupon_code, order.shipping_cost, order.payment_method) = (0, None, 0, "cod".into());
        let event = OrderConfirmed { order, payment_id: None, confirmed_at: datetime!(2026-05-01 23:30 UTC).into() };
        let email = order_confirmation(&event, &to(), &links());
        assert!(!email.text.contains("Discount") && !email.html.contains("Discount"), "{}", email.text);
        assert!(email.text.contains("Shipping: Free\n") && email.text.contains("Payment: Cash on delivery"), "{}", email.text);
    }

    #[test]
    fn the_shipping_update_carries_tracking_when_present() {
        let event = OrderShipped {
            order: order(),
            tracking_number: Some("1Z<999>".into()),
            carrier: Some("UPS".into()),
            shipped_at: datetime!(2026-05-03 10:00 UTC).into(),
        };
        let email = order_shipped(&event, &to(), &links());
        assert_eq!(email.subject, "Shipping Update for Order #SKY-20260501-0001 - Skyshop");
        assert!(email.text.contains("shipped on Sunday, May 3, 2026"), "{}", email.text);
        assert!(email.text.contains("Carrier: UPS\nTracking number: 1Z<999>\n"), "{}", email.text);
        assert!(email.html.contains("Tracking number: <strong>1Z&lt;999&gt;</strong>"), "{}", email.html);
        assert!(!email.html.contains("<script>"), "{}", email.html);

        let bare = order_shipped(&OrderShipped { tracking_number: None, carrier: Some(" ".into()), ..event }, &to(), &links());
        assert!(!bare.text.contains("Carrier") && !bare.text.contains("Tracking number"), "{}", bare.text);
        assert!(bare.text.contains("Tracking details are not available"), "{}", bare.text);
    }

    #[test]
    fn the_delivery_email_names_the_order_and_date() {
        let event = OrderDelivered { order: order(), delivered_at: datetime!(2026-05-05 15:00 UTC).into() };
        let email = order_delivered(&event, &to(), &links());
        assert_eq!(email.subject, "Order #SKY-20260501-0001 Delivered - Skyshop");
        assert!(email.text.contains("Your order #SKY-20260501-0001 was delivered on Tuesday, May 5, 2026."), "{}", email.text);
        assert!(email.html.contains("/account/orders/00000000-0000-0000-0000-00000000002a"), "{}", email.html);
    }

    #[test]
    fn the_cancellation_explains_the_reason_and_the_refund() {
        let event = OrderCancelled {
            order: order(),
            previous_status: "CONFIRMED".into(),
            reason: "customer_request".into(),
            cancelled_by: CancelledBy::Customer,
            refund_amount: Some(5046),
            cancelled_at: datetime!(2026-05-02 09:00 UTC).into(),
        };
        let email = order_cancelled(&event, &to(), &links());
        assert_eq!(email.subject, "Order #SKY-20260501-0001 Cancelled - Skyshop");
        assert!(email.text.contains("It was cancelled at your request.\n"), "{}", email.text);
        assert!(email.text.contains("A refund of $50.46 has been issued"), "{}", email.text);
        assert!(email.html.contains("A refund of $50.46 has been issued"), "{}", email.html);

        let timeout = OrderCancelled {
            reason: "payment_timeout".into(),
            previous_status: "PENDING".into(),
            cancelled_by: CancelledBy::System,
            refund_amount: None,
            ..event.clone()
        };
        let email = order_cancelled(&timeout, &to(), &links());
        assert!(email.text.contains("The payment was not completed in time"), "{}", email.text);
        assert!(!email.text.contains("refund"), "nothing was paid: {}", email.text);

        let mut cod = order();
        cod.payment_method = "cod".into();
        let note =
            OrderCancelled { order: cod, reason: "Out of <stock>".into(), cancelled_by: CancelledBy::Admin, refund_amount: None, ..event };
        let email = order_cancelled(&note, &to(), &links());
        assert!(email.text.contains("Reason: Out of <stock>\n\n- 2 x "), "{}", email.text);
        assert!(!email.text.contains("refund"), "cash on delivery: nothing was paid: {}", email.text);
        assert!(email.html.contains("Reason: Out of &lt;stock&gt;") && !email.html.contains("<stock>"), "{}", email.html);
    }

    #[test]
    fn payments_refunds_a_card_order_cancelled_after_it_was_paid() {
        let paid = OrderCancelled {
            order: order(),
            previous_status: "CONFIRMED".into(),
            reason: "customer_request".into(),
            cancelled_by: CancelledBy::Customer,
            refund_amount: None,
            cancelled_at: datetime!(2026-05-02 09:00 UTC).into(),
        };
        assert!(refunded_by_payments(&paid));
        assert!(refunded_by_payments(&OrderCancelled { previous_status: "PROCESSING".into(), ..paid.clone() }));
        assert!(!refunded_by_payments(&OrderCancelled { previous_status: "PENDING".into(), ..paid.clone() }), "never paid");
        let mut cod = paid;
        cod.order.payment_method = "cod".into();
        assert!(!refunded_by_payments(&cod), "cash on delivery is not paid before delivery");
    }

    #[test]
    fn money_in_another_currency_names_it() {
        assert_eq!(money(5047, "usd"), "$50.47");
        assert_eq!(money(5047, "USD"), "$50.47");
        assert_eq!(money(5047, "eur"), "50.47 EUR");
    }

    #[test]
    fn an_order_number_with_line_breaks_stays_on_the_subject_line() {
        let mut order = order();
        order.order_number = "SKY-1\r\nBcc: x".into();
        let event = OrderDelivered { order, delivered_at: datetime!(2026-05-05 15:00 UTC).into() };
        assert_eq!(order_delivered(&event, &to(), &links()).subject, "Order #SKY-1  Bcc: x Delivered - Skyshop");
    }
}
