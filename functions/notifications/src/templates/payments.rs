//! Payment emails (from payments, through its topic): a refund to the order's user, worded by its
//! [`RefundReason`], and a dispute to every active admin (both looked up through accounts, see
//! [`crate::Notifier`]).
//!
//! Amounts are cents in the event's currency, rendered as the order emails do ([`money`]). Every
//! value of the event (the order number, the note, Stripe's dispute id and reason) is escaped in
//! the HTML part; the order number stays on one line in subjects.

use shop_aws::messages::payments::{PaymentDisputed, PaymentRefunded, RefundReason};
use uuid::Uuid;

use super::orders::{Cancellation, cancellation_email, long_date, money};
use super::{BRAND, Email, ForOrderUser, Links, Recipient, SUPPORT_EMAIL, button, escape_html, layout, one_line};

impl ForOrderUser for PaymentRefunded {
    fn order_id(&self) -> Uuid {
        self.order_id
    }
    fn user_id(&self) -> Uuid {
        self.user_id
    }
}

/// How long a refund takes to show, in the customer's words.
const REFUND_DELAY: &str = "it can take 5 to 10 business days to appear";

/// `PaymentRefunded` → the email its reason calls for:
/// - `order_cancelled`: the cancellation (`"Order #<n> Cancelled - Skyshop"`, [`cancellation_email`])
///   with the amount and the note as the reason;
/// - `requested`, `external`: `"Refund for Order #<n> - Skyshop"` ([`refund`]);
/// - `late_payment`: `"Your payment for Order #<n> was refunded - Skyshop"` ([`late_payment_refund`]).
pub fn payment_refunded(event: &PaymentRefunded, to: &Recipient, links: &Links) -> Email {
    match event.reason {
        RefundReason::OrderCancelled => {
            let cancellation = Cancellation {
                order_id: event.order_id,
                order_number: &event.order_number,
                cancelled_at: None,
                reason: event.note.as_deref().unwrap_or_default(),
                refund: Some((event.amount, event.currency.as_str())),
                items: &[],
            };
            cancellation_email(&cancellation, to, links)
        }
        RefundReason::Requested | RefundReason::External => refund(event, to, links),
        RefundReason::LatePayment => late_payment_refund(event, to, links),
    }
}

/// `"Refund for Order #<n> - Skyshop"`: this refund, the total refunded so far against what was
/// paid (in full, or what is still charged), and the note when there is one.
pub fn refund(event: &PaymentRefunded, to: &Recipient, links: &Links) -> Email {
    let number = one_line(&event.order_number);
    let url = links.order(event.order_id);
    let amount = money(event.amount, &event.currency);
    let so_far = if event.refunded_total >= event.captured {
        format!(
            "Refunded so far: {} of the {} you paid. Your payment has now been refunded in full.",
            money(event.refunded_total, &event.currency),
            money(event.captured, &event.currency)
        )
    } else {
        format!(
            "Refunded so far: {} of the {} you paid. This is a partial refund: {} of your payment remains charged.",
            money(event.refunded_total, &event.currency),
            money(event.captured, &event.currency),
            money(event.captured - event.refunded_total, &event.currency)
        )
    };
    let note = event.note.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(|n| format!("Reason: {n}"));
    let text = format!(
        "Hi {name},\n\n\
         We have refunded {amount} for your order #{number} to your original payment method; {REFUND_DELAY}.\n\
         {so_far}\n\
         {note_text}\n\
         View your order: {url}\n\n\
         Questions? Write to us at {SUPPORT_EMAIL}.\n\n\
         The {BRAND} team\n",
        name = to.first_name,
        note_text = note.as_deref().map(|n| format!("{n}\n")).unwrap_or_default(),
    );
    let body = format!(
        "<p>Hi {name},</p>\n\
         <p>We have refunded <strong>{amount}</strong> for your order <strong>#{number}</strong> to your original \
         payment method; {REFUND_DELAY}.</p>\n\
         <p>{so_far}</p>\n\
         {note_html}\
         {button}\n\
         <p>Questions? Write to us at <a href=\"mailto:{SUPPORT_EMAIL}\">{SUPPORT_EMAIL}</a>.</p>\n\
         <p>The {BRAND} team</p>",
        name = escape_html(&to.first_name),
        amount = escape_html(&amount),
        number = escape_html(&number),
        so_far = escape_html(&so_far),
        note_html = note.as_deref().map(|n| format!("<p>{}</p>\n", escape_html(n))).unwrap_or_default(),
        button = button(&url, "View your order"),
    );
    let subject = format!("Refund for Order #{number} - {BRAND}");
    Email { to: to.email.clone(), html: layout(&subject, &body), subject, text }
}

/// `"Your payment for Order #<n> was refunded - Skyshop"`: the payment arrived after the order had
/// expired and its items were no longer available, so all of it went back.
pub fn late_payment_refund(event: &PaymentRefunded, to: &Recipient, links: &Links) -> Email {
    let number = one_line(&event.order_number);
    let url = links.order(event.order_id);
    let amount = money(event.amount, &event.currency);
    let text = format!(
        "Hi {name},\n\n\
         Your payment for order #{number} arrived after the order had expired, and its items were no longer \
         available, so we could not complete the order.\n\
         We have refunded the full amount of {amount} to your original payment method; {REFUND_DELAY}.\n\n\
         We are sorry for the inconvenience. You are welcome to place a new order: {shop}\n\
         View the expired order: {url}\n\n\
         Questions? Write to us at {SUPPORT_EMAIL}.\n\n\
         The {BRAND} team\n",
        name = to.first_name,
        shop = links.shop(),
    );
    let body = format!(
        "<p>Hi {name},</p>\n\
         <p>Your payment for order <strong>#{number}</strong> arrived after the order had expired, and its items were \
         no longer available, so we could not complete the order.</p>\n\
         <p>We have refunded the full amount of <strong>{amount}</strong> to your original payment method; \
         {REFUND_DELAY}.</p>\n\
         <p>We are sorry for the inconvenience. You are welcome to place a new order.</p>\n\
         {button}\n\
         <p>View the expired order: <a href=\"{url}\">{url}</a></p>\n\
         <p>Questions? Write to us at <a href=\"mailto:{SUPPORT_EMAIL}\">{SUPPORT_EMAIL}</a>.</p>\n\
         <p>The {BRAND} team</p>",
        name = escape_html(&to.first_name),
        number = escape_html(&number),
        amount = escape_html(&amount),
        button = button(&links.shop(), "Continue shopping"),
        url = escape_html(&url),
    );
    let subject = format!("Your payment for Order #{number} was refunded - {BRAND}");
    Email { to: to.email.clone(), html: layout(&subject, &body), subject, text }
}

/// `PaymentDisputed` → `"Payment disputed for Order #<n> - Skyshop"`, to one admin: the amount,
/// Stripe's reason and dispute id, and a link to the order's admin page.
pub fn payment_disputed(event: &PaymentDisputed, to: &Recipient, links: &Links) -> Email {
    let number = one_line(&event.order_number);
    let url = links.admin_order(event.order_id);
    let amount = money(event.amount, &event.currency);
    let date = long_date(event.disputed_at);
    let text = format!(
        "Hi {name},\n\n\
         The card payment for order #{number} was disputed on {date}.\n\n\
         Amount disputed: {amount}\n\
         Reason: {reason}\n\
         Dispute: {dispute}\n\
         Payment: {payment}\n\n\
         The order is flagged. Respond to the dispute with evidence in Stripe before its deadline.\n\n\
         Review the order: {url}\n\n\
         The {BRAND} team\n",
        name = to.first_name,
        reason = event.reason,
        dispute = event.dispute_id,
        payment = event.payment_id,
    );
    let body = format!(
        "<p>Hi {name},</p>\n\
         <p>The card payment for order <strong>#{number}</strong> was disputed on {date}.</p>\n\
         <p>Amount disputed: <strong>{amount}</strong><br>\
         Reason: <strong>{reason}</strong><br>\
         Dispute: {dispute}<br>\
         Payment: {payment}</p>\n\
         <p>The order is flagged. Respond to the dispute with evidence in Stripe before its deadline.</p>\n\
         {button}\n\
         <p>The {BRAND} team</p>",
        name = escape_html(&to.first_name),
        number = escape_html(&number),
        date = escape_html(&date),
        amount = escape_html(&amount),
        reason = escape_html(&event.reason),
        dispute = escape_html(&event.dispute_id),
        payment = event.payment_id,
        button = button(&url, "Review the order"),
    );
    let subject = format!("Payment disputed for Order #{number} - {BRAND}");
    Email { to: to.email.clone(), html: layout(&subject, &body), subject, text }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn links() -> Links {
        Links::new("https://shop.example.com/")
    }

    fn to() -> Recipient {
        Recipient { user_id: Uuid::from_u128(1), email: "ann@example.com".into(), first_name: "<Ann>".into() }
    }

    fn refunded(reason: RefundReason, amount: i64, refunded_total: i64, note: Option<&str>) -> PaymentRefunded {
        PaymentRefunded {
            payment_id: Uuid::from_u128(3),
            refund_id: Uuid::from_u128(4),
            order_id: Uuid::from_u128(42),
            order_number: "SKY-<1>".into(),
            user_id: Uuid::from_u128(1),
            amount,
            refunded_total,
            captured: 5047,
            currency: "usd".into(),
            reason,
            note: note.map(Into::into),
            refunded_at: datetime!(2026-05-02 09:00 UTC).into(),
        }
    }

    const ORDER_URL: &str = "https://shop.example.com/account/orders/00000000-0000-0000-0000-00000000002a";

    #[test]
    fn a_cancelled_orders_refund_is_the_cancellation_with_the_amount_and_the_note_as_reason() {
        let email = payment_refunded(&refunded(RefundReason::OrderCancelled, 5047, 5047, Some("customer_request")), &to(), &links());
        assert_eq!(email.to, "ann@example.com");
        assert_eq!(email.subject, "Order #SKY-<1> Cancelled - Skyshop");
        let text = &email.text;
        assert!(text.starts_with("Hi <Ann>,\n\nYour order #SKY-<1> was cancelled.\n"), "no date, plain text: {text}");
        assert!(text.contains("It was cancelled at your request.\nA refund of $50.47 has been issued"), "{text}");
        assert!(
            text.contains(&format!("has been issued to your original payment method; {REFUND_DELAY}.\n\nView your order: {ORDER_URL}\n")),
            "{text}"
        );
        assert!(email.html.contains("A refund of $50.47 has been issued") && email.html.contains(ORDER_URL), "{}", email.html);
        assert!(!email.html.contains("<ul>"), "no lines to list: {}", email.html);

        let note = payment_refunded(&refunded(RefundReason::OrderCancelled, 5047, 5047, Some("Out of <stock> & gone")), &to(), &links());
        assert!(note.text.contains("Reason: Out of <stock> & gone\nA refund of $50.47"), "{}", note.text);
        assert!(note.html.contains("Reason: Out of &lt;stock&gt; &amp; gone") && !note.html.contains("<stock>"), "{}", note.html);
        assert!(note.html.contains("#SKY-&lt;1&gt;") && note.html.contains("Hi &lt;Ann&gt;,"), "{}", note.html);

        let none = payment_refunded(&refunded(RefundReason::OrderCancelled, 5047, 5047, None), &to(), &links());
        assert!(none.text.contains("was cancelled.\nA refund of $50.47"), "no reason line: {}", none.text);
    }

    #[test]
    fn a_partial_refund_names_this_refund_the_total_so_far_and_what_remains() {
        let email = payment_refunded(&refunded(RefundReason::Requested, 1000, 1500, Some("Scratched <lid>")), &to(), &links());
        assert_eq!(email.subject, "Refund for Order #SKY-<1> - Skyshop");
        let text = &email.text;
        assert!(text.contains("We have refunded $10.00 for your order #SKY-<1> to your original payment method;"), "{text}");
        assert!(
            text.contains(
                "Refunded so far: $15.00 of the $50.47 you paid. This is a partial refund: $35.47 of your payment remains charged.\n"
            ),
            "{text}"
        );
        assert!(text.contains("Reason: Scratched <lid>\n\nView your order: "), "{text}");
        let html = &email.html;
        assert!(html.contains("<strong>$10.00</strong>") && html.contains("$35.47 of your payment remains charged"), "{html}");
        assert!(html.contains("Reason: Scratched &lt;lid&gt;") && !html.contains("<lid>") && !html.contains("SKY-<1>"), "{html}");
        assert!(html.contains(&format!("href=\"{ORDER_URL}\"")), "{html}");
    }

    #[test]
    fn a_refund_that_completes_the_payment_says_it_is_refunded_in_full() {
        for reason in [RefundReason::Requested, RefundReason::External] {
            let email = payment_refunded(&refunded(reason, 3547, 5047, None), &to(), &links());
            assert_eq!(email.subject, "Refund for Order #SKY-<1> - Skyshop");
            assert!(email.text.contains("We have refunded $35.47 for your order"), "{}", email.text);
            assert!(
                email.text.contains("Refunded so far: $50.47 of the $50.47 you paid. Your payment has now been refunded in full.\n"),
                "{}",
                email.text
            );
            assert!(!email.text.contains("Reason:") && !email.text.contains("partial"), "{}", email.text);
        }
    }

    #[test]
    fn a_late_payment_refund_explains_the_expired_order_and_the_full_amount() {
        let email = payment_refunded(&refunded(RefundReason::LatePayment, 5047, 5047, None), &to(), &links());
        assert_eq!(email.subject, "Your payment for Order #SKY-<1> was refunded - Skyshop");
        let text = &email.text;
        assert!(text.contains("arrived after the order had expired, and its items were no longer available"), "{text}");
        assert!(text.contains("We have refunded the full amount of $50.47 to your original payment method"), "{text}");
        assert!(text.contains(&format!("View the expired order: {ORDER_URL}\n")), "{text}");
        assert!(email.html.contains("<strong>#SKY-&lt;1&gt;</strong>") && email.html.contains("<strong>$50.47</strong>"), "{}", email.html);
    }

    #[test]
    fn the_dispute_email_names_amount_reason_dispute_and_links_to_the_admin_order_page() {
        let event = PaymentDisputed {
            payment_id: Uuid::from_u128(3),
            order_id: Uuid::from_u128(42),
            order_number: "SKY-7\r\nBcc: x".into(),
            dispute_id: "dp_<1>".into(),
            amount: 5047,
            currency: "usd".into(),
            reason: "product_not_received <b>".into(),
            disputed_at: datetime!(2026-05-03 10:00 UTC).into(),
        };
        let admin = Recipient { user_id: Uuid::from_u128(9), email: "ada@example.com".into(), first_name: "Ada".into() };
        let email = payment_disputed(&event, &admin, &links());
        assert_eq!(email.to, "ada@example.com");
        assert_eq!(email.subject, "Payment disputed for Order #SKY-7  Bcc: x - Skyshop", "one line");
        let text = &email.text;
        assert!(text.contains("was disputed on Sunday, May 3, 2026.\n"), "{text}");
        assert!(text.contains("Amount disputed: $50.47\nReason: product_not_received <b>\nDispute: dp_<1>\n"), "{text}");
        let admin_url = "https://shop.example.com/admin/orders/00000000-0000-0000-0000-00000000002a";
        assert!(text.contains(&format!("Review the order: {admin_url}\n")), "{text}");
        let html = &email.html;
        assert!(
            html.contains("Reason: <strong>product_not_received &lt;b&gt;</strong>") && html.contains("Dispute: dp_&lt;1&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b>") && !html.contains("dp_<1>"), "{html}");
        assert!(html.contains(&format!("href=\"{admin_url}\"")), "{html}");

        let euros = payment_disputed(&PaymentDisputed { currency: "eur".into(), ..event }, &admin, &links());
        assert!(euros.text.contains("Amount disputed: 50.47 EUR\n"), "{}", euros.text);
    }
}
