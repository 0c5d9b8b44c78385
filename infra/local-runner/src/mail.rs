//! The local mailbox: the email moto's SES accepted, read from moto's `GET /moto-api/data.json`.
//!
//! What moto (5.2) keeps, under `data["ses"]`:
//!
//! - `Message`: SES v1 `SendEmail` and SES v2 `SendEmail` with `Simple` content (what Skyshop's
//!   notifications function sends): `{id, source, subject, body, destinations: {ToAddresses,
//!   CcAddresses?, BccAddresses?}}`. moto keeps **one** body: the HTML part when one was sent,
//!   else the text part; the other part is dropped. So such a mail has either `html` or `text`.
//! - `RawMessage`: SES v2 `Raw` content / v1 `SendRawEmail`: `{id, source, destinations: [..],
//!   raw_data}` with the whole MIME message (decoded here: multipart, quoted-printable, base64,
//!   RFC 2047 encoded subjects). `destinations` holds both the API's and the headers' recipients.
//!
//! The runner fills in the text part moto dropped from what it captured on the way out
//! ([`crate::mail_capture`]), so a mail sent by the notifications function shows both parts.
//!
//! moto stores no send time: `sentAt` is the raw message's `Date` header, else `null`.
//! Both lists are in send order; [`sent_mail`] returns each newest first, simple messages
//! (everything Skyshop sends) before raw ones, since moto gives no order between the two.
//!
//! Deliberately self-contained (reqwest, serde, serde_json, time, thiserror only).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One sent email, as the local runner shows it: `{id, to, subject, text, html, sentAt}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mail {
    /// moto's (SES) message id.
    pub id: String,
    /// Every recipient address (To, Cc, Bcc), without display names.
    pub to: Vec<String>,
    pub subject: String,
    /// The text part, when moto kept it.
    pub text: Option<String>,
    /// The HTML part, when moto kept it.
    pub html: Option<String>,
    /// When the mail was sent, if moto knows (`Date` header of raw messages).
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("could not read {url}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("moto's data.json is not what was expected")]
    Parse(#[from] serde_json::Error),
}

/// The mail moto's SES accepted, newest first (see the module docs for what "newest" can mean).
pub async fn sent_mail(http: &reqwest::Client, moto_url: &str) -> Result<Vec<Mail>, MailError> {
    let url = format!("{}/moto-api/data.json", moto_url.trim_end_matches('/'));
    let request_error = |source| MailError::Request { url: url.clone(), source };
    let body = http
        .get(&url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(request_error)?
        .bytes()
        .await
        .map_err(request_error)?;
    parse_data_json(&body)
}

/// Parses moto's `data.json` (only `ses.Message` and `ses.RawMessage` are read).
pub fn parse_data_json(json: &[u8]) -> Result<Vec<Mail>, MailError> {
    let data: DataJson = serde_json::from_slice(json)?;
    let simple = data.ses.message.into_iter().rev().map(SimpleMessage::into_mail);
    let raw = data.ses.raw_message.into_iter().rev().map(RawMessage::into_mail);
    Ok(simple.chain(raw).collect())
}

#[derive(Debug, Default, Deserialize)]
struct DataJson {
    #[serde(default)]
    ses: SesModels,
}

#[derive(Debug, Default, Deserialize)]
struct SesModels {
    #[serde(default, rename = "Message")]
    message: Vec<SimpleMessage>,
    #[serde(default, rename = "RawMessage")]
    raw_message: Vec<RawMessage>,
}

#[derive(Debug, Deserialize)]
struct SimpleMessage {
    id: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    destinations: Destinations,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Destinations {
    #[serde(default)]
    to_addresses: Vec<String>,
    #[serde(default)]
    cc_addresses: Vec<String>,
    #[serde(default)]
    bcc_addresses: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawMessage {
    id: String,
    #[serde(default)]
    destinations: Vec<String>,
    #[serde(default)]
    raw_data: String,
}

impl SimpleMessage {
    fn into_mail(self) -> Mail {
        let d = self.destinations;
        let to = recipients(d.to_addresses.iter().chain(&d.cc_addresses).chain(&d.bcc_addresses).map(String::as_str));
        let (text, html) = if looks_like_html(&self.body) { (None, Some(self.body)) } else { (Some(self.body), None) };
        Mail { id: self.id, to, subject: self.subject, text, html, sent_at: None }
    }
}

impl RawMessage {
    fn into_mail(self) -> Mail {
        let raw = self.raw_data.replace("\r\n", "\n");
        let part = Part::parse(&raw);
        let mut to = recipients(self.destinations.iter().map(String::as_str));
        if to.is_empty() {
            let headers = ["to", "cc", "bcc"].iter().filter_map(|h| part.header(h)).collect::<Vec<_>>().join(",");
            to = recipients(split_addresses(&headers).into_iter());
        }
        let subject = part.header("subject").map(decode_encoded_words).unwrap_or_default();
        let sent_at =
            part.header("date").and_then(|d| OffsetDateTime::parse(d.trim(), &time::format_description::well_known::Rfc2822).ok());
        let mut bodies = Bodies::default();
        part.collect_bodies(&mut bodies);
        Mail { id: self.id, to, subject, text: bodies.text, html: bodies.html, sent_at }
    }
}

/// The body moto kept of a simple message is HTML when an HTML part was sent.
fn looks_like_html(body: &str) -> bool {
    let start = body.trim_start().get(..14).unwrap_or(body.trim_start()).to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html") || (start.starts_with('<') && body.contains("</"))
}

/// Bare addresses, de-duplicated (ignoring ASCII case), in first-seen order.
fn recipients<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        let address = bare_address(value);
        if !address.is_empty() && !out.iter().any(|a| a.eq_ignore_ascii_case(&address)) {
            out.push(address);
        }
    }
    out
}

/// `"Name" <a@b>` → `a@b`.
fn bare_address(value: &str) -> String {
    match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => value[open + 1..close].trim().to_owned(),
        _ => value.trim().to_owned(),
    }
}

/// Splits an address-list header at commas outside quotes and angle brackets.
fn split_addresses(header: &str) -> Vec<&str> {
    let (mut parts, mut start, mut quoted, mut angle) = (Vec::new(), 0, false, false);
    for (i, c) in header.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                parts.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&header[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

#[derive(Debug, Default)]
struct Bodies {
    text: Option<String>,
    html: Option<String>,
}

/// One MIME entity: unfolded headers and the (still encoded) body.
#[derive(Debug)]
struct Part<'a> {
    headers: Vec<(String, String)>,
    body: &'a str,
}

impl<'a> Part<'a> {
    /// Parses an entity with `\n` line endings.
    fn parse(entity: &'a str) -> Self {
        let (head, body) = match entity.find("\n\n") {
            Some(at) => (&entity[..at], &entity[at + 2..]),
            None if entity.starts_with('\n') => ("", &entity[1..]),
            None => (entity, ""),
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        Self { headers, body }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// `(media type, parameters)` of `Content-Type`, defaulting to `text/plain`.
    fn content_type(&self) -> (String, Vec<(String, String)>) {
        let value = self.header("content-type").unwrap_or("text/plain");
        let mut pieces = value.split(';');
        let media = pieces.next().unwrap_or_default().trim().to_ascii_lowercase();
        let params = pieces
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_owned()))
            .collect();
        (if media.is_empty() { "text/plain".to_owned() } else { media }, params)
    }

    /// Fills in the first text/plain and text/html parts that are not attachments.
    fn collect_bodies(&self, bodies: &mut Bodies) {
        let (media, params) = self.content_type();
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        if media.starts_with("multipart/") {
            if let Some(boundary) = param("boundary") {
                for part in split_multipart(self.body, boundary) {
                    Part::parse(part).collect_bodies(bodies);
                }
            }
            return;
        }
        let attachment = self.header("content-disposition").is_some_and(|d| d.to_ascii_lowercase().starts_with("attachment"));
        let slot = match media.as_str() {
            "text/plain" if !attachment => &mut bodies.text,
            "text/html" if !attachment => &mut bodies.html,
            _ => return,
        };
        if slot.is_none() {
            let encoding = self.header("content-transfer-encoding").unwrap_or("7bit").trim().to_ascii_lowercase();
            *slot = Some(match encoding.as_str() {
                "quoted-printable" => decode_charset(&decode_quoted_printable(self.body, false), param("charset")),
                "base64" => decode_charset(&decode_base64(self.body), param("charset")),
                _ => self.body.to_owned(),
            });
        }
    }
}

/// The parts between `--boundary` delimiter lines (preamble and epilogue dropped).
fn split_multipart<'a>(body: &'a str, boundary: &str) -> Vec<&'a str> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut current: Option<usize> = None;
    let mut offset = 0;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if trimmed == delimiter || trimmed == format!("{delimiter}--") {
            if let Some(start) = current {
                // The newline before a delimiter belongs to the delimiter.
                let end = if offset > start && body[..offset].ends_with('\n') { offset - 1 } else { offset };
                parts.push(&body[start..end.max(start)]);
            }
            if trimmed != delimiter {
                return parts;
            }
            current = Some(offset + line.len());
        }
        offset += line.len();
    }
    if let Some(start) = current {
        parts.push(&body[start..]);
    }
    parts
}

/// Bytes in `charset` (default UTF-8) to a string. ISO-8859-1 maps bytes to code points.
fn decode_charset(bytes: &[u8], charset: Option<&str>) -> String {
    match charset.map(str::to_ascii_lowercase).as_deref() {
        Some("iso-8859-1" | "latin1" | "latin-1") => bytes.iter().map(|&b| char::from(b)).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Quoted-printable (RFC 2045) to bytes; `underscore_is_space` for RFC 2047 "Q" words.
fn decode_quoted_printable(input: &str, underscore_is_space: bool) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') => i += 3,
            b'=' => match (bytes.get(i + 1).copied().and_then(hex_value), bytes.get(i + 2).copied().and_then(hex_value)) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                }
                _ => {
                    out.push(b'=');
                    i += 1;
                }
            },
            b'_' if underscore_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// Base64 (standard alphabet) to bytes, skipping whitespace and stopping at padding.
fn decode_base64(input: &str) -> Vec<u8> {
    fn sextet(c: u8) -> Option<u32> {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        Some(u32::from(value))
    }
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in input.bytes() {
        if c == b'=' {
            break;
        }
        let Some(value) = sextet(c) else { continue };
        buffer = ((buffer << 6) | value) & 0xFFFF;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xFF) as u8);
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?B?...?=`, `=?utf-8?Q?...?=`) in a header value.
/// Whitespace between two adjacent encoded words is dropped, as the RFC says.
fn decode_encoded_words(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut previous_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, candidate) = rest.split_at(start);
        match parse_encoded_word(candidate) {
            Some((decoded, consumed)) => {
                if !(previous_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&decoded);
                rest = &candidate[consumed..];
                previous_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &candidate[2..];
                previous_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `=?charset?encoding?text?=` at the start of `input` → (decoded text, bytes consumed).
fn parse_encoded_word(input: &str) -> Option<(String, usize)> {
    let inner = input.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    if text.contains(char::is_whitespace) {
        return None;
    }
    let charset = charset.split('*').next().unwrap_or(charset); // RFC 2231 language suffix
    let bytes = match encoding {
        "B" | "b" => decode_base64(text),
        "Q" | "q" => decode_quoted_printable(text, true),
        _ => return None,
    };
    // `inner` is a suffix of `input`: the word ends `end + 2` bytes into it.
    let consumed = input.len() - inner.len() + end + 2;
    Some((decode_charset(&bytes, Some(charset)), consumed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed from a real `GET /moto-api/data.json` of moto 5.2.5 after (1) the notifications
    /// function sent a welcome email (SES v2 Simple, HTML + text: moto kept the HTML), (2) an SES
    /// v2 Simple send with a text part only (and a Cc), (3) an SES v2 Raw send of a Python-built
    /// multipart/alternative message (quoted-printable text, base64 HTML, encoded subject).
    const SAMPLE: &str = r#"{
      "sqs": {"Queue": []},
      "ses": {
        "BulkTemplateMessage": [],
        "EmailIdentity": [{"email_identity": "raw-sender@skyshop.example.com", "identity_type": "EMAIL_ADDRESS", "verification_status": "SUCCESS", "verified_for_sending_status": false}],
        "Message": [
          {
            "body": "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Welcome to Skyshop!</title></head>\n<body style=\"margin:0;padding:24px;background:#f5f5f7;font-family:Arial,Helvetica,sans-serif;color:#1d1d1f;line-height:1.5\">\n<div style=\"max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px\">\n<h1 style=\"margin:0 0 24px;font-size:22px;color:#0b5cad\">Skyshop</h1>\n<p>Hi &lt;b&gt;Eve&lt;/b&gt; &amp; &quot;Co&quot;,</p>\n<p>Welcome to Skyshop! Your account is ready.</p>\n<p><a href=\"https://shop.test/login\" style=\"display:inline-block;padding:12px 24px;background:#0b5cad;color:#ffffff;text-decoration:none;border-radius:6px;font-weight:bold\">Sign in</a></p>\n<p>Or start browsing right away: <a href=\"https://shop.test\">https://shop.test</a></p>\n<p>Happy shopping,<br>The Skyshop team</p>\n</div>\n</body>\n</html>\n",
            "destinations": {"ToAddresses": ["customer-d50ee6c346f9@example.com"]},
            "id": "kpvgzmakgvtvcmix-ggwqqclc-lyit-imnw-cgcs-hlqfllfagcjt-ubbjwj",
            "source": "Skyshop <sender-d50d5ae0a7f5@skyshop.example.com>",
            "subject": "Welcome to Skyshop!"
          },
          {
            "body": "Just text, <not> html.\nLine 2",
            "destinations": {"ToAddresses": ["text-to@example.com"], "CcAddresses": ["text-cc@example.com"]},
            "id": "zpxbagazfphexlyx-xvlrfwcg-cspu-eadt-uyvj-ytymrksqpypv-hvdkzj",
            "source": "raw-sender@skyshop.example.com",
            "subject": "Plain only"
          }
        ],
        "RawMessage": [
          {
            "destinations": ["raw-to@example.com", "=?utf-8?q?Zo=C3=AB?= Raw <raw-to@example.com>"],
            "id": "fsznrecwmjniaesk-akgcnfoz-dnpi-zqor-kwhp-oyfocobhhsqd-wagiyi",
            "raw_data": "From: Skyshop <raw-sender@skyshop.example.com>\nTo: =?utf-8?q?Zo=C3=AB?= Raw <raw-to@example.com>\nSubject: =?utf-8?q?R=C3=A9initialiser_=E2=80=93?= Skyshop\nDate: Wed, 25 Nov 2026 17:05:00 +0000\nMIME-Version: 1.0\nContent-Type: multipart/alternative;\n boundary=\"===============6476029848797007724==\"\n\n--===============6476029848797007724==\nContent-Type: text/plain; charset=\"utf-8\"\nContent-Transfer-Encoding: quoted-printable\n\nHi Zo=C3=AB,\nReset: https://shop.test/reset-password?token=3Dabc123\nThis link expires in 1 hour.\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=\nxxxxxxxxxxxxx\n\n--===============6476029848797007724==\nContent-Type: text/html; charset=\"utf-8\"\nContent-Transfer-Encoding: base64\nMIME-Version: 1.0\n\nPHA+SGkgWm/Dqyw8L3A+PHA+PGEgaHJlZj0iaHR0cHM6Ly9zaG9wLnRlc3QvcmVzZXQtcGFzc3dv\ncmQ/dG9rZW49YWJjMTIzIj5SZXNldDwvYT48L3A+Cg==\n\n--===============6476029848797007724==--\n",
            "source": "raw-sender@skyshop.example.com"
          }
        ],
        "TemplateMessage": []
      }
    }"#;

    fn sample() -> Vec<Mail> {
        parse_data_json(SAMPLE.as_bytes()).expect("the sample parses")
    }

    #[test]
    fn simple_messages_come_newest_first_then_raw_ones() {
        let ids: Vec<String> = sample().into_iter().map(|m| m.id).collect();
        assert_eq!(
            ids,
            [
                "zpxbagazfphexlyx-xvlrfwcg-cspu-eadt-uyvj-ytymrksqpypv-hvdkzj",
                "kpvgzmakgvtvcmix-ggwqqclc-lyit-imnw-cgcs-hlqfllfagcjt-ubbjwj",
                "fsznrecwmjniaesk-akgcnfoz-dnpi-zqor-kwhp-oyfocobhhsqd-wagiyi",
            ]
        );
    }

    #[test]
    fn a_simple_html_message_keeps_its_html_and_has_no_text() {
        let mail = sample().remove(1);
        assert_eq!(mail.to, ["customer-d50ee6c346f9@example.com"]);
        assert_eq!(mail.subject, "Welcome to Skyshop!");
        assert_eq!(mail.text, None);
        let html = mail.html.expect("html");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<p>Hi &lt;b&gt;Eve&lt;/b&gt; &amp; &quot;Co&quot;,</p>"));
        assert_eq!(mail.sent_at, None);
    }

    #[test]
    fn a_simple_text_message_keeps_its_text_and_all_recipients() {
        let mail = sample().remove(0);
        assert_eq!(mail.to, ["text-to@example.com", "text-cc@example.com"]);
        assert_eq!(mail.text.as_deref(), Some("Just text, <not> html.\nLine 2"));
        assert_eq!(mail.html, None);
    }

    #[test]
    fn a_raw_mime_message_is_decoded() {
        let mail = sample().remove(2);
        assert_eq!(mail.to, ["raw-to@example.com"], "recipients are bare and de-duplicated");
        assert_eq!(mail.subject, "Réinitialiser – Skyshop");
        assert_eq!(
            mail.text.as_deref(),
            Some(concat!(
                "Hi Zoë,\nReset: https://shop.test/reset-password?token=abc123\nThis link expires in 1 hour.\n",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
            ))
        );
        assert_eq!(
            mail.html.as_deref(),
            Some("<p>Hi Zoë,</p><p><a href=\"https://shop.test/reset-password?token=abc123\">Reset</a></p>\n")
        );
        assert_eq!(mail.sent_at, Some(time::macros::datetime!(2026-11-25 17:05:00 UTC)));
    }

    #[test]
    fn mail_serializes_camel_case() {
        let json = serde_json::to_value(sample().remove(2)).expect("serializes");
        let keys: Vec<&str> = json.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 6);
        for key in ["id", "to", "subject", "text", "html", "sentAt"] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
        assert_eq!(json["sentAt"], "2026-11-25T17:05:00Z");
        assert_eq!(serde_json::to_value(sample().remove(0)).expect("serializes")["sentAt"], serde_json::Value::Null);
    }

    #[test]
    fn a_moto_without_ses_data_has_no_mail() {
        assert!(parse_data_json(br#"{"sqs": {"Queue": []}}"#).expect("parses").is_empty());
        assert!(matches!(parse_data_json(b"<html>"), Err(MailError::Parse(_))));
    }

    #[test]
    fn raw_messages_without_destinations_use_the_headers() {
        let data = serde_json::json!({"ses": {"RawMessage": [{
            "id": "r1",
            "destinations": [],
            "raw_data": "To: \"Doe, Jane\" <jane@example.com>, bob@example.com\r\nCc: Carol <carol@example.com>\r\nSubject: =?UTF-8?B?SGVsbG8g8J+Rizw+?=\r\n =?UTF-8?Q?_w=C3=B6rld?=\r\n\r\nplain 8bit body \u{e9}\r\n"
        }]}});
        let mail = parse_data_json(data.to_string().as_bytes()).expect("parses").remove(0);
        assert_eq!(mail.to, ["jane@example.com", "bob@example.com", "carol@example.com"]);
        assert_eq!(mail.subject, "Hello 👋<> wörld");
        assert_eq!(mail.text.as_deref(), Some("plain 8bit body \u{e9}\n"));
        assert_eq!(mail.html, None);
        assert_eq!(mail.sent_at, None);
    }

    #[test]
    fn decoders_handle_edge_cases() {
        assert_eq!(decode_base64("SGk=\n"), b"Hi");
        assert_eq!(decode_base64("SGVs\r\nbG8"), b"Hello");
        assert_eq!(decode_quoted_printable("a=3Db=\nc =ZZ", false), b"a=bc =ZZ");
        assert_eq!(decode_encoded_words("plain =?bogus and =?utf-8?x?abc?= text"), "plain =?bogus and =?utf-8?x?abc?= text");
        assert_eq!(decode_encoded_words("=?iso-8859-1?q?caf=E9?= ok"), "café ok");
    }
}
