//! Email templates: one event type in, one [`Email`] out.
//!
//! Adding an event type is one arm in [`render`] and one template function taking the payload
//! and the [`Links`]. Every value interpolated into the HTML part goes through [`escape_html`];
//! the text part is plain text and carries values as they are.
//!
//! Events that name their recipient (accounts' events) go through [`render`]; the others
//! (`StockLow`, the order events in [`orders`], the payment events in [`payments`]) are rendered
//! by the consumer once it has looked the recipient up.

pub mod orders;
pub mod payments;

use serde::de::DeserializeOwned;
use shop_aws::events::Event;
use shop_aws::messages::{PasswordChanged, PasswordResetRequested, StockLow, UserRegistered};
use uuid::Uuid;

/// The product name in subjects and bodies.
pub const BRAND: &str = "Skyshop";
/// Where customers write when something looks wrong.
pub const SUPPORT_EMAIL: &str = "support@skyshop.example.com";

/// A rendered email, ready for SES.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Builds the frontend links emails point to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    base: String,
}

impl Links {
    /// `frontend_url` without a trailing slash is the shop's home page.
    pub fn new(frontend_url: &str) -> Self {
        Self { base: frontend_url.trim_end_matches('/').to_owned() }
    }

    pub fn shop(&self) -> String {
        self.base.clone()
    }

    pub fn login(&self) -> String {
        format!("{}/login", self.base)
    }

    pub fn reset_password(&self, token: &str) -> String {
        format!("{}/reset-password?token={}", self.base, encode_query_value(token))
    }

    /// The customer's page of one order (the frontend routes orders by id).
    pub fn order(&self, id: Uuid) -> String {
        format!("{}/account/orders/{id}", self.base)
    }

    /// Where an admin manages one order.
    pub fn admin_order(&self, id: Uuid) -> String {
        format!("{}/admin/orders/{id}", self.base)
    }

    /// Where a seller (or an admin) manages one product.
    pub fn seller_product(&self, id: Uuid) -> String {
        format!("{}/seller/products/{id}", self.base)
    }
}

/// Someone an email about an event goes to, when the event does not name them itself (the
/// low-stock email's seller and admins, an order's user; from accounts' `/internal/users/*`
/// routes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub user_id: Uuid,
    pub email: String,
    pub first_name: String,
}

/// A message whose email goes to the user of an order (looked up through accounts by the
/// consumer): the order events and payments' `PaymentRefunded`.
pub trait ForOrderUser {
    fn order_id(&self) -> Uuid;
    fn user_id(&self) -> Uuid;
}

/// Why a message could not be rendered. Neither variant carries payload values.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("unknown message type")]
    UnknownType,
    /// The payload does not fit the type; `field` is the JSON path of the offending field.
    #[error("the payload does not match its type at `{field}` ({reason})")]
    InvalidData { field: String, reason: &'static str },
}

/// Renders the email for an event of type `kind` with payload `data`.
pub fn render(kind: &str, data: serde_json::Value, links: &Links) -> Result<Email, RenderError> {
    match kind {
        UserRegistered::KIND => with(data, links, welcome),
        PasswordResetRequested::KIND => with(data, links, password_reset),
        PasswordChanged::KIND => with(data, links, password_changed),
        _ => Err(RenderError::UnknownType),
    }
}

/// Deserializes the payload as `E` and applies its template.
fn with<E: Event>(data: serde_json::Value, links: &Links, template: fn(&E, &Links) -> Email) -> Result<Email, RenderError> {
    let payload: E = parse(data)?;
    Ok(template(&payload, links))
}

/// Deserializes an event payload; an error names the field, never the value.
pub fn parse<T: DeserializeOwned>(data: serde_json::Value) -> Result<T, RenderError> {
    serde_path_to_error::deserialize(data).map_err(|err| {
        let field = err.path().to_string();
        // serde's messages can quote the offending value (an address, a token): keep only its kind.
        let message = err.into_inner().to_string();
        let reason = if message.starts_with("missing field") {
            "missing field"
        } else if message.starts_with("unknown field") {
            "unknown field"
        } else if message.starts_with("invalid type") {
            "invalid type"
        } else {
            "invalid value"
        };
        RenderError::InvalidData { field, reason }
    })
}

/// `UserRegistered` → "Welcome to Skyshop!".
pub fn welcome(event: &UserRegistered, links: &Links) -> Email {
    let (login_url, shop_url) = (links.login(), links.shop());
    let text = format!(
        "Hi {name},\n\n\
         Welcome to {BRAND}! Your account is ready.\n\n\
         Sign in: {login_url}\n\
         Start shopping: {shop_url}\n\n\
         Happy shopping,\nThe {BRAND} team\n",
        name = event.first_name,
    );
    let body = format!(
        "<p>Hi {name},</p>\n\
         <p>Welcome to {BRAND}! Your account is ready.</p>\n\
         {button}\n\
         <p>Or start browsing right away: <a href=\"{shop}\">{shop}</a></p>\n\
         <p>Happy shopping,<br>The {BRAND} team</p>",
        name = escape_html(&event.first_name),
        button = button(&login_url, "Sign in"),
        shop = escape_html(&shop_url),
    );
    Email { to: event.email.clone(), subject: format!("Welcome to {BRAND}!"), html: layout(&format!("Welcome to {BRAND}!"), &body), text }
}

/// `PasswordResetRequested` → "Reset Your Password - Skyshop", with the one-time link.
pub fn password_reset(event: &PasswordResetRequested, links: &Links) -> Email {
    let reset_url = links.reset_password(&event.token);
    let expiry = expiry_text(event.expires_in_minutes);
    let text = format!(
        "Hi {name},\n\n\
         We received a request to reset the password of your {BRAND} account.\n\n\
         Reset your password: {reset_url}\n\n\
         This link expires in {expiry} and can be used once.\n\
         If you did not ask for a password reset, you can ignore this email; your password stays unchanged.\n\n\
         The {BRAND} team\n",
        name = event.first_name,
    );
    let body = format!(
        "<p>Hi {name},</p>\n\
         <p>We received a request to reset the password of your {BRAND} account.</p>\n\
         {button}\n\
         <p>If the button does not work, copy this link into your browser:<br>\
         <a href=\"{url}\">{url}</a></p>\n\
         <p>This link expires in <strong>{expiry}</strong> and can be used once.</p>\n\
         <p>If you did not ask for a password reset, you can ignore this email; your password stays unchanged.</p>\n\
         <p>The {BRAND} team</p>",
        name = escape_html(&event.first_name),
        button = button(&reset_url, "Reset password"),
        url = escape_html(&reset_url),
        expiry = escape_html(&expiry),
    );
    let subject = format!("Reset Your Password - {BRAND}");
    Email { to: event.email.clone(), html: layout(&subject, &body), subject, text }
}

/// `PasswordChanged` → "Your Password Has Been Changed - Skyshop".
pub fn password_changed(event: &PasswordChanged, _links: &Links) -> Email {
    let text = format!(
        "Hi {name},\n\n\
         The password of your {BRAND} account was just changed. If this was you, no action is needed.\n\n\
         If you did not change your password, contact us right away at {SUPPORT_EMAIL}.\n\n\
         The {BRAND} team\n",
        name = event.first_name,
    );
    let body = format!(
        "<p>Hi {name},</p>\n\
         <p>The password of your {BRAND} account was just changed. If this was you, no action is needed.</p>\n\
         <p>If you did not change your password, contact us right away at \
         <a href=\"mailto:{SUPPORT_EMAIL}\">{SUPPORT_EMAIL}</a>.</p>\n\
         <p>The {BRAND} team</p>",
        name = escape_html(&event.first_name),
    );
    let subject = format!("Your Password Has Been Changed - {BRAND}");
    Email { to: event.email.clone(), html: layout(&subject, &body), subject, text }
}

/// `StockLow` → "Low stock: <product> (<n> left) - Skyshop", to one recipient (the product's
/// seller or an admin), with a link to manage the product.
pub fn stock_low(event: &StockLow, to: &Recipient, links: &Links) -> Email {
    let url = links.seller_product(event.product_id);
    let product = one_line(&event.product_name);
    let sku = event.sku.as_deref().map(|s| format!(" (SKU {s})")).unwrap_or_default();
    let left = if event.available == 0 { "none left".to_owned() } else { format!("{} left", event.available) };
    let text = format!(
        "Hi {name},\n\n\
         {product}{sku} is running low: {left}, at or below its low-stock threshold of {threshold}.\n\n\
         Restock or manage it: {url}\n\n\
         The {BRAND} team\n",
        name = to.first_name,
        threshold = event.threshold,
    );
    let body = format!(
        "<p>Hi {name},</p>\n\
         <p><strong>{product}</strong>{sku} is running low: <strong>{left}</strong>, at or below its low-stock \
         threshold of {threshold}.</p>\n\
         {button}\n\
         <p>The {BRAND} team</p>",
        name = escape_html(&to.first_name),
        product = escape_html(&product),
        sku = escape_html(&sku),
        left = escape_html(&left),
        threshold = event.threshold,
        button = button(&url, "Manage the product"),
    );
    let subject = format!("Low stock: {product} ({left}) - {BRAND}");
    Email { to: to.email.clone(), html: layout(&subject, &body), subject, text }
}

/// Subjects (and other one-line values) stay one line: control characters become spaces.
fn one_line(value: &str) -> String {
    value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The HTML document around a template's body. `title` is escaped here.
fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n\
         <html lang=\"en\">\n\
         <head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head>\n\
         <body style=\"margin:0;padding:24px;background:#f5f5f7;font-family:Arial,Helvetica,sans-serif;color:#1d1d1f;line-height:1.5\">\n\
         <div style=\"max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px\">\n\
         <h1 style=\"margin:0 0 24px;font-size:22px;color:#0b5cad\">{BRAND}</h1>\n\
         {body}\n\
         </div>\n\
         </body>\n\
         </html>\n",
        title = escape_html(title),
    )
}

/// A call-to-action link styled as a button. `url` and `label` are escaped here.
fn button(url: &str, label: &str) -> String {
    format!(
        "<p><a href=\"{url}\" style=\"display:inline-block;padding:12px 24px;background:#0b5cad;color:#ffffff;\
         text-decoration:none;border-radius:6px;font-weight:bold\">{label}</a></p>",
        url = escape_html(url),
        label = escape_html(label),
    )
}

/// "1 hour", "30 minutes", "1 hour and 30 minutes", "2 days".
pub fn expiry_text(minutes: u32) -> String {
    fn unit(n: u32, one: &str) -> String {
        if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") }
    }
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let parts: Vec<String> =
        [(days, "day"), (hours, "hour"), (mins, "minute")].into_iter().filter(|(n, _)| *n > 0).map(|(n, one)| unit(n, one)).collect();
    match parts.as_slice() {
        [] => "0 minutes".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters pass unchanged).
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn links() -> Links {
        Links::new("https://shop.example.com/")
    }

    #[test]
    fn escape_html_escapes_the_five_special_characters() {
        assert_eq!(escape_html(r#"<b>"Tom" & 'Jerry'</b>"#), "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;");
        assert_eq!(escape_html("Zoë"), "Zoë");
    }

    #[test]
    fn expiry_text_reads_naturally() {
        assert_eq!(expiry_text(60), "1 hour");
        assert_eq!(expiry_text(1), "1 minute");
        assert_eq!(expiry_text(30), "30 minutes");
        assert_eq!(expiry_text(90), "1 hour and 30 minutes");
        assert_eq!(expiry_text(120), "2 hours");
        assert_eq!(expiry_text(1440 + 61), "1 day, 1 hour and 1 minute");
        assert_eq!(expiry_text(0), "0 minutes");
    }

    #[test]
    fn links_are_built_from_the_frontend_url() {
        let links = links();
        assert_eq!(links.shop(), "https://shop.example.com");
        assert_eq!(links.login(), "https://shop.example.com/login");
        assert_eq!(links.reset_password("ab+c/="), "https://shop.example.com/reset-password?token=ab%2Bc%2F%3D");
        assert_eq!(links.admin_order(Uuid::from_u128(42)), "https://shop.example.com/admin/orders/00000000-0000-0000-0000-00000000002a");
    }

    #[test]
    fn the_text_part_carries_the_reset_link_and_expiry() {
        let data = json!({
            "userId": "0196f3a4-0000-7000-8000-000000000001",
            "email": "eve@example.com",
            "firstName": "Eve",
            "token": "t0k3n",
            "expiresInMinutes": 60
        });
        let email = render(PasswordResetRequested::KIND, data, &links()).expect("renders");
        assert_eq!(email.to, "eve@example.com");
        assert_eq!(email.subject, "Reset Your Password - Skyshop");
        assert!(email.text.contains("https://shop.example.com/reset-password?token=t0k3n"), "{}", email.text);
        assert!(email.text.contains("expires in 1 hour"), "{}", email.text);
        assert!(email.html.contains("href=\"https://shop.example.com/reset-password?token=t0k3n\""), "{}", email.html);
    }

    #[test]
    fn the_text_part_of_the_other_templates_names_the_user_and_links() {
        let user = json!({"userId": "0196f3a4-0000-7000-8000-000000000001", "email": "a@example.com", "firstName": "<Ann>"});
        let welcome = render(UserRegistered::KIND, user.clone(), &links()).expect("renders");
        assert!(welcome.text.starts_with("Hi <Ann>,"), "plain text is not escaped: {}", welcome.text);
        assert!(welcome.text.contains("https://shop.example.com/login"));
        assert!(welcome.html.contains("Hi &lt;Ann&gt;,"));
        let changed = render(PasswordChanged::KIND, user, &links()).expect("renders");
        assert!(changed.text.contains(SUPPORT_EMAIL));
        assert!(!changed.html.contains("<Ann>"));
    }

    #[test]
    fn the_low_stock_email_names_the_product_its_stock_and_links_to_it() {
        let event = StockLow {
            product_id: Uuid::from_u128(7),
            seller_id: None,
            product_name: "<Lamp>\r\nBcc: x".into(),
            sku: Some("LMP-1".into()),
            available: 2,
            threshold: 5,
        };
        let to = Recipient { user_id: Uuid::from_u128(1), email: "sam@example.com".into(), first_name: "Sam".into() };
        let email = stock_low(&event, &to, &links());
        assert_eq!(email.to, "sam@example.com");
        assert_eq!(email.subject, "Low stock: <Lamp>  Bcc: x (2 left) - Skyshop", "one line");
        assert!(email.text.starts_with("Hi Sam,\n\n<Lamp>"), "no indentation: {}", email.text);
        assert!(email.text.contains("(SKU LMP-1) is running low: 2 left, at or below its low-stock threshold of 5."), "{}", email.text);
        assert!(email.text.contains("https://shop.example.com/seller/products/00000000-0000-0000-0000-000000000007"), "{}", email.text);
        assert!(email.html.contains("&lt;Lamp&gt;") && !email.html.contains("<Lamp>"), "{}", email.html);
        let none = stock_low(&StockLow { available: 0, sku: None, ..event }, &to, &links());
        assert!(none.subject.contains("(none left)") && !none.text.contains("SKU"), "{}", none.text);
    }

    #[test]
    fn invalid_payloads_name_the_field_but_not_the_value() {
        let data = json!({"userId": "0196f3a4-0000-7000-8000-000000000001", "email": "secret@example.com", "firstName": 7});
        let err = render(UserRegistered::KIND, data, &links()).expect_err("invalid");
        let message = err.to_string();
        assert!(message.contains("firstName"), "{message}");
        assert!(!message.contains("secret@example.com"), "{message}");

        let data = json!({"email": "secret@example.com", "firstName": "Eve", "token": "t", "expiresInMinutes": "soon"});
        let message = render(PasswordResetRequested::KIND, data, &links()).expect_err("invalid").to_string();
        assert!(!message.contains("soon") && !message.contains("secret"), "{message}");

        assert!(matches!(render("NoSuchEvent", json!({}), &links()), Err(RenderError::UnknownType)));
        assert!(matches!(render("OrderShipped", json!({}), &links()), Err(RenderError::UnknownType)), "rendered by the consumer");
        assert!(matches!(render("PaymentRefunded", json!({}), &links()), Err(RenderError::UnknownType)), "rendered by the consumer");
    }
}
