//! Writes `events/`: one API Gateway v2 request per template route, one SQS batch per queue
//! consumer (order events as their queues receive them from SNS), the schedules' events, the
//! catalog indexer's stream batch and reindex request — the samples
//! `sam local invoke -e` takes and the events round-trip test replays.

use std::collections::BTreeMap;
use std::path::Path;

use sam_model::apigw::{AuthorizerClaims, HttpEvent};
use sam_model::{Route, RouteAuth, Template};
use serde_json::{Value, json};

/// The id put into `{id}` path parameters of samples.
pub const SAMPLE_ID: &str = "0190a000-0000-7000-8000-000000000001";
/// The caller of protected samples.
pub const SAMPLE_USER: &str = "0190a000-0000-7000-8000-0000000000aa";

/// A plausible body for routes that take one.
fn sample_body(route: &Route) -> Option<Value> {
    let body = match (route.method.as_str(), route.path.as_str()) {
        ("POST", "/api/auth/register") => {
            json!({"email": "ada@example.com", "password": "Correct-Horse-9", "firstName": "Ada", "lastName": "Lovelace"})
        }
        ("POST", "/api/auth/login") => json!({"email": "ada@example.com", "password": "Correct-Horse-9"}),
        ("POST", "/api/auth/refresh") | ("POST", "/api/auth/logout") => json!({"refreshToken": "sample-refresh-token"}),
        ("POST", "/api/auth/forgot-password") => json!({"email": "ada@example.com"}),
        ("POST", "/api/auth/reset-password") => json!({"token": "0".repeat(64), "newPassword": "Brand-New-Pass-2"}),
        ("POST", "/api/users/me/password") => json!({"currentPassword": "Correct-Horse-9", "newPassword": "Brand-New-Pass-2"}),
        ("PATCH", "/api/users/me") => json!({"firstName": "Grace"}),
        ("POST", "/api/users/me/addresses") | ("PUT", "/api/users/me/addresses/{id}") => json!({
            "firstName": "Ada", "lastName": "Lovelace", "address1": "1 Main St", "city": "San Francisco",
            "state": "CA", "postalCode": "94105", "country": "US", "isDefault": true
        }),
        ("PATCH", "/api/users/{id}") => json!({"isActive": false}),
        ("POST", "/api/categories") => json!({"name": "Smartphones", "description": "Phones that do everything"}),
        ("PUT", "/api/categories/{id}") => json!({"description": "Phones that do everything"}),
        ("POST", "/api/products") => json!({
            "name": "iPhone 15 Pro", "sku": "APL-IP15-PRO", "description": "A phone.", "price": 99_900,
            "categoryId": SAMPLE_ID, "brand": "Apple", "tags": ["smartphones", "apple"]
        }),
        ("PUT", "/api/products/{id}") => json!({"price": 94_900}),
        ("POST", "/api/products/{id}/images/upload-url") => json!({"contentType": "image/webp", "contentLength": 48_213}),
        ("POST", "/api/cart/items") => json!({"productId": SAMPLE_ID, "quantity": 2}),
        ("PUT", "/api/cart/items/{productId}") => json!({"quantity": 3}),
        ("POST", "/api/cart/coupon") => json!({"code": "SAVE10"}),
        ("POST", "/api/coupons") => json!({"code": "WELCOME15", "type": "percent", "value": 15, "minSubtotal": 5_000, "perUserLimit": 1}),
        ("PUT", "/api/coupons/{code}") => json!({"active": false}),
        // PUT and bulk samples stay `{}` (422): a valid one asks the catalog, which the
        // round-trip's standalone binary cannot reach.
        ("POST", "/api/inventory/{productId}/adjust") => json!({"delta": -2, "reason": "Damaged in storage"}),
        ("POST", "/api/orders") => json!({"shippingAddress": sample_address(), "paymentMethod": "card"}),
        // The intent sample stays `{}` (422) too: a valid one asks orders first, which the
        // round-trip's standalone binary cannot reach. Confirm reads its own database first (404).
        ("POST", "/api/payments/confirm") => json!({"orderId": SAMPLE_ID}),
        ("POST", "/api/payments/{id}/refund") => json!({"amount": 5_000, "reason": "One of the two arrived damaged."}),
        ("PATCH", "/api/orders/{id}/status") => json!({"status": "SHIPPED", "trackingNumber": "1Z999AA10123456784", "carrier": "UPS"}),
        ("POST", "/api/reviews") => {
            json!({"productId": SAMPLE_ID, "rating": 5, "title": "Worth every cent", "content": "Fast, bright screen, great battery."})
        }
        ("PUT", "/api/reviews/{id}") => json!({"rating": 4, "content": "Still great after a month; the battery fades a little."}),
        ("POST", "/api/reviews/{id}/hide") => json!({"reason": "Contains a phone number."}),
        ("POST" | "PUT" | "PATCH", _) => json!({}),
        _ => return None,
    };
    Some(body)
}

/// The shipping address of order samples (`shop_aws::messages::orders::Address` on the wire).
fn sample_address() -> Value {
    json!({
        "firstName": "Ada", "lastName": "Lovelace", "address1": "1 Main St", "city": "San Francisco",
        "state": "CA", "postalCode": "94105", "country": "US"
    })
}

/// The order number of order samples (`ORD-<base36 time>-<4 chars>`).
pub const SAMPLE_ORDER_NUMBER: &str = "ORD-MI2K3J4L-A1B2";

/// A sample value for a `{param}` path segment.
fn sample_param(name: &str) -> &'static str {
    match name {
        "slug" => "sample-slug",
        "sku" => "SAMPLE-SKU-1",
        "code" => "SAVE10",
        "orderNumber" => SAMPLE_ORDER_NUMBER,
        _ => SAMPLE_ID,
    }
}

/// The route's path with every `{param}` replaced by a sample, and the parameters.
pub fn sample_path(route: &Route) -> (String, BTreeMap<String, String>) {
    let mut params = BTreeMap::new();
    let segments: Vec<String> = route
        .path
        .split('/')
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                params.insert(name.to_owned(), sample_param(name).to_owned());
                sample_param(name).to_owned()
            }
            None => seg.to_owned(),
        })
        .collect();
    (segments.join("/"), params)
}

/// The sample event of one route.
pub fn route_event(route: &Route) -> Value {
    let (path, params) = sample_path(route);
    let mut event = HttpEvent::new(&route.method, &path);
    event.route_key = route.key();
    event.request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into();
    event.received_at = time::macros::datetime!(2026-11-25 12:00:00 UTC);
    event.domain_name = "api.skyshop.example.com".into();
    event.source_ip = "203.0.113.10".into();
    event.headers.push(("user-agent".into(), "sam-local-sample".into()));
    event.path_parameters = params;
    if let RouteAuth::Jwt { scopes } = &route.auth {
        // The caller the route admits: the admin where admins may, a seller on seller-only routes.
        let (role, scope) = if scopes.iter().any(|s| s == "admin") {
            ("ADMIN", "admin")
        } else if scopes.iter().any(|s| s == "seller") {
            ("SELLER", "seller")
        } else {
            ("CUSTOMER", "customer")
        };
        event.headers.push(("authorization".into(), "Bearer <access token verified by the JWT authorizer>".into()));
        event.authorizer = Some(AuthorizerClaims {
            claims: BTreeMap::from([
                ("sub".into(), SAMPLE_USER.into()),
                ("role".into(), role.into()),
                ("scope".into(), scope.into()),
                ("sid".into(), SAMPLE_ID.into()),
                ("iss".into(), "https://api.skyshop.example.com".into()),
                ("aud".into(), "skyshop".into()),
            ]),
            scopes: scopes.clone(),
        });
    }
    // Commands that create money-relevant things take an Idempotency-Key.
    if route.key() == "POST /api/orders" {
        event.headers.push(("idempotency-key".into(), "0190a000-0000-7000-8000-0000000000d1".into()));
    }
    if route.key() == "POST /api/payments/{id}/refund" {
        event.headers.push(("idempotency-key".into(), "0190a000-0000-7000-8000-0000000000d2".into()));
    }
    // Stripe's delivery: its event, signed (no bearer token; the route has no authorizer).
    if route.key() == format!("POST {}", crate::stripe::WEBHOOK_PATH) {
        let body = serde_json::to_vec(&stripe_event()).unwrap_or_default();
        event.headers.push(("content-type".into(), "application/json; charset=utf-8".into()));
        event.headers.push(("stripe-signature".into(), crate::stripe::signature(SAMPLE_WEBHOOK_SECRET, SAMPLE_WEBHOOK_TIMESTAMP, &body)));
        event.body = Some(body);
        return event.to_json();
    }
    if let Some(body) = sample_body(route) {
        event.headers.push(("content-type".into(), "application/json".into()));
        event.body = Some(serde_json::to_vec(&body).unwrap_or_default());
    }
    event.to_json()
}

/// The signing secret of the webhook sample. Not the secret of any endpoint: the local cloud
/// generates its own (`StripeWebhookSecret`), AWS has Stripe's.
pub const SAMPLE_WEBHOOK_SECRET: &str = "whsec_skyshop_sample_not_a_real_secret";
/// When the webhook sample was signed (2026-11-25T12:00:00Z). Stripe's tolerance is 300 s, so
/// the sample never verifies later: replayed, it answers 400 `signature_invalid` (another
/// secret) or, with `STRIPE_WEBHOOK_SECRET` set to [`SAMPLE_WEBHOOK_SECRET`], 400
/// `signature_expired`. A delivery that verifies comes from localstripe itself, or
/// `skyshop-local`'s tests, which sign with the cloud's secret at the current time.
pub const SAMPLE_WEBHOOK_TIMESTAMP: i64 = 1_795_608_000;

/// A Stripe event as Stripe delivers it: the sample order's intent succeeded.
pub fn stripe_event() -> Value {
    json!({
        "id": "evt_3Sample0000000000",
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": SAMPLE_WEBHOOK_TIMESTAMP,
        "livemode": false,
        "pending_webhooks": 1,
        "type": "payment_intent.succeeded",
        "data": {"object": {
            "id": "pi_3Sample0000000000",
            "object": "payment_intent",
            "amount": 194_206,
            "amount_received": 194_206,
            "currency": "usd",
            "status": "succeeded",
            "client_secret": "pi_3Sample0000000000_secret_sample",
            "latest_charge": "ch_3Sample0000000000",
            "last_payment_error": null,
            "metadata": {"orderId": SAMPLE_ID, "userId": SAMPLE_USER, "orderNumber": SAMPLE_ORDER_NUMBER, "paymentId": "0190a000-0000-7000-8000-0000000000f1"}
        }}
    })
}

/// A sample SQS batch of one envelope `{id, type, source, occurredAt, data}` on `queue`, with
/// the `type` message attribute (as the SQS publisher and SNS raw delivery both set it).
fn sqs_event(queue: &str, id: &str, kind: &str, source: &str, data: Value) -> Value {
    let envelope = json!({"id": id, "type": kind, "source": source, "occurredAt": "2026-11-25T12:00:00Z", "data": data});
    json!({"Records": [{
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "body": envelope.to_string(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764072000000", "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1764072000001"},
        "messageAttributes": {"type": {"stringValue": kind, "dataType": "String", "stringListValues": [], "binaryListValues": []}},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
        "awsRegion": "us-east-1"
    }]})
}

/// SES's event-publishing notice of a permanent bounce (configuration set → `MailFeedbackTopic`).
pub fn ses_bounce_notice() -> Value {
    json!({
        "eventType": "Bounce",
        "bounce": {
            "feedbackId": "0100018c3b4d5e6f-7a8b9c0d-1e2f-4a5b-8c9d-0e1f2a3b4c5d-000000",
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": "bounce@simulator.amazonses.com", "action": "failed", "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": "2026-11-25T12:00:01.000Z",
            "reportingMTA": "dns; amazonses.com"
        },
        "mail": {
            "timestamp": "2026-11-25T12:00:00.000Z",
            "source": "Skyshop <noreply@skyshop.example.com>",
            "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/noreply@skyshop.example.com",
            "sendingAccountId": "123456789012",
            "messageId": "0100018c3b4d5e6f-11111111-2222-3333-4444-555555555555-000000",
            "destination": ["bounce@simulator.amazonses.com"],
            "headersTruncated": false,
            "tags": {"ses:configuration-set": ["skyshop-dev"]}
        }
    })
}

/// A sample `MailFeedbackQueue` batch for mail-feedback: one permanent bounce, as SNS delivers
/// it without raw delivery (the notice in the envelope's `Message`; raw delivery, the template's
/// choice, puts the notice itself in `body`, and both are read).
pub fn mail_feedback_event() -> Value {
    let envelope = json!({
        "Type": "Notification",
        "MessageId": "6c0f3f0e-5d3b-5b8b-9f1e-3c2d1b0a9f8e",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:skyshop-dev-mail-feedback",
        "Message": ses_bounce_notice().to_string(),
        "Timestamp": "2026-11-25T12:00:02.000Z",
        "SignatureVersion": "1"
    });
    json!({"Records": [{
        "messageId": "1a7e4c1b-3f7a-4f0a-9d3e-2b1c0d9e8f7a",
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0b",
        "body": envelope.to_string(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764072002000", "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1764072002001"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:MailFeedbackQueue",
        "awsRegion": "us-east-1"
    }]})
}

/// A sample SQS batch carrying one welcome-email request.
pub fn notifications_event() -> Value {
    sqs_event(
        "NotificationsQueue",
        "0190a000-0000-7000-8000-0000000000e1",
        "UserRegistered",
        "accounts",
        json!({"userId": SAMPLE_USER, "email": "ada@example.com", "firstName": "Ada"}),
    )
}

/// The order of the order-event samples: a card order of two units, paid, with SAVE10.
fn sample_order(status: &str) -> shop_aws::messages::orders::OrderSnapshot {
    use shop_aws::messages::orders::{Address, Line, OrderSnapshot};
    let at = shop_core::time::Timestamp::from(time::macros::datetime!(2026-11-25 12:00:00 UTC));
    OrderSnapshot {
        order_id: SAMPLE_ID.parse().unwrap_or_default(),
        order_number: SAMPLE_ORDER_NUMBER.into(),
        user_id: SAMPLE_USER.parse().unwrap_or_default(),
        status: status.into(),
        payment_method: "card".into(),
        items: vec![Line {
            product_id: SAMPLE_ID_2.parse().unwrap_or_default(),
            seller_id: "0190a000-0000-7000-8000-0000000000bb".parse().unwrap_or_default(),
            name: "iPhone 15 Pro".into(),
            sku: "APL-IP15-PRO".into(),
            price: 99_900,
            quantity: 2,
            image: None,
        }],
        subtotal: 199_800,
        discount: 19_980,
        shipping_cost: 0,
        tax: 14_386,
        total: 194_206,
        currency: "usd".into(),
        coupon_code: Some("SAVE10".into()),
        shipping_address: Address {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            address1: "1 Main St".into(),
            address2: None,
            city: "San Francisco".into(),
            state: "CA".into(),
            postal_code: "94105".into(),
            country: "US".into(),
            phone: None,
        },
        placed_at: at,
    }
}

/// A sample `InventoryOrderEventsQueue` batch for inventory-events: a paid order confirmed
/// (its reservation is committed).
pub fn inventory_order_event() -> Value {
    use shop_aws::events::Event;
    use shop_aws::messages::orders::OrderConfirmed;
    let at = shop_core::time::Timestamp::from(time::macros::datetime!(2026-11-25 12:05:00 UTC));
    let data = OrderConfirmed { order: sample_order("CONFIRMED"), payment_id: Some("pi_3Sample0000000000".into()), confirmed_at: at };
    sqs_event(
        "InventoryOrderEventsQueue",
        "0190a000-0000-7000-8000-0000000000e3",
        OrderConfirmed::KIND,
        "orders",
        serde_json::to_value(data).unwrap_or_default(),
    )
}

/// A sample `CartOrderEventsQueue` batch for cart-events: the customer cancelled a confirmed
/// order (its coupon redemption is released).
pub fn cart_order_event() -> Value {
    order_cancelled_event("CartOrderEventsQueue", "0190a000-0000-7000-8000-0000000000e4")
}

/// A sample `PaymentsOrderEventsQueue` batch for payments-events: the customer cancelled a paid
/// card order (it is refunded in full).
pub fn payments_order_event() -> Value {
    order_cancelled_event("PaymentsOrderEventsQueue", "0190a000-0000-7000-8000-0000000000e6")
}

/// A batch of `queue` holding one `OrderCancelled`: a confirmed order cancelled by its customer.
fn order_cancelled_event(queue: &str, message_id: &str) -> Value {
    use shop_aws::events::Event;
    use shop_aws::messages::orders::{CancelledBy, OrderCancelled};
    let at = shop_core::time::Timestamp::from(time::macros::datetime!(2026-11-25 12:10:00 UTC));
    let data = OrderCancelled {
        order: sample_order("CANCELLED"),
        previous_status: "CONFIRMED".into(),
        reason: "customer_request".into(),
        cancelled_by: CancelledBy::Customer,
        refund_amount: None,
        cancelled_at: at,
    };
    sqs_event(queue, message_id, OrderCancelled::KIND, "orders", serde_json::to_value(data).unwrap_or_default())
}

/// EventBridge's "Scheduled Event" for `function`'s `rate(...)` rule.
fn schedule_event(id: &str, function: &str) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-25T12:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:123456789012:rule/{function}-schedule")], "detail": {}
    })
}

/// A product as `CatalogTable` holds it, in DynamoDB JSON (the stream's image format).
fn product_image(id: &str, name: &str, price: i64, deleted: bool) -> Value {
    let at = shop_core::time::Timestamp::from(time::macros::datetime!(2026-11-25 12:00:00 UTC));
    let id: uuid::Uuid = id.parse().unwrap_or_default();
    let product = catalog::domain::Product {
        id,
        seller_id: SAMPLE_USER.parse().unwrap_or_default(),
        name: name.into(),
        slug: catalog::domain::slugify(name),
        sku: format!("APL-{}", &id.simple().to_string()[28..]),
        description: "A phone.".into(),
        price,
        compare_price: None,
        currency: "USD".into(),
        category_id: "0190a000-0000-7000-8000-0000000000c1".parse().unwrap_or_default(),
        brand: Some("Apple".into()),
        images: vec![],
        tags: vec!["smartphones".into(), "apple".into()],
        attributes: Default::default(),
        is_active: true,
        is_featured: false,
        rating_average: 0.0,
        rating_count: 0,
        in_stock: false,
        available: None,
        created_at: at,
        updated_at: at,
        deleted_at: deleted.then_some(at),
        version: 1,
    };
    let mut item: serde_dynamo::Item = serde_dynamo::to_item(&product).unwrap_or_default();
    for (k, v) in [("pk", format!("PRODUCT#{id}")), ("sk", "PRODUCT".into()), ("gsi1pk", format!("SELLER#{SAMPLE_USER}"))] {
        item.insert(k.into(), serde_dynamo::AttributeValue::S(v));
    }
    serde_json::to_value(item).unwrap_or_default()
}

/// The other product of the indexer sample.
const SAMPLE_ID_2: &str = "0190a000-0000-7000-8000-000000000002";

/// A sample `CatalogTable` stream batch for the indexer: a product created, then renamed and
/// repriced; another one soft-deleted (only product items pass the mapping's filter).
pub fn catalog_indexer_event() -> Value {
    let record = |n: u64, name: &str, id: &str, change: Value| {
        let mut dynamodb = json!({
            "ApproximateCreationDateTime": 1_764_072_000 + n,
            "Keys": {"pk": {"S": format!("PRODUCT#{id}")}, "sk": {"S": "PRODUCT"}},
            "SequenceNumber": format!("1000000000000000000000{n}"),
            "SizeBytes": 812,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        });
        if let (Some(target), Some(change)) = (dynamodb.as_object_mut(), change.as_object()) {
            target.extend(change.clone());
        }
        json!({
            "eventID": format!("c4ca4238a0b923820dcc509a6f75849{n}"),
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": dynamodb,
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/CatalogTable/stream/2026-11-25T00:00:00.000"
        })
    };
    let (a, b) = (SAMPLE_ID, SAMPLE_ID_2);
    json!({"Records": [
        record(1, "INSERT", a, json!({"NewImage": product_image(a, "iPhone 15 Pro", 99_900, false)})),
        record(2, "MODIFY", a, json!({"OldImage": product_image(a, "iPhone 15 Pro", 99_900, false), "NewImage": product_image(a, "iPhone 15 Pro Max", 94_900, false)})),
        record(3, "MODIFY", b, json!({"OldImage": product_image(b, "Galaxy S24", 79_900, false), "NewImage": product_image(b, "Galaxy S24", 79_900, true)})),
    ]})
}

/// A sample `InventoryTable` stream batch for inventory-events: a product's stock drops from 12
/// to 8 (threshold 10: the catalog hears of it and one `StockLow` is published).
pub fn inventory_events_event() -> Value {
    let at = shop_core::time::Timestamp::from(time::macros::datetime!(2026-11-25 12:00:00 UTC));
    let image = |available: i64, version: u64| {
        let stock = inventory::domain::Stock {
            product_id: SAMPLE_ID.parse().unwrap_or_default(),
            available,
            reserved: 12 - available,
            low_stock_threshold: 10,
            seller_id: SAMPLE_USER.parse().ok(),
            product_name: "iPhone 15 Pro".into(),
            sku: Some("APL-IP15-PRO".into()),
            updated_at: at,
            version,
        };
        let mut item: serde_dynamo::Item = serde_dynamo::to_item(&stock).unwrap_or_default();
        for (k, v) in [("pk", format!("PRODUCT#{SAMPLE_ID}")), ("sk", "STOCK".into())] {
            item.insert(k.into(), serde_dynamo::AttributeValue::S(v));
        }
        serde_json::to_value(item).unwrap_or_default()
    };
    json!({"Records": [{
        "eventID": "c81e728d9d4c2f636f067f89cc14862c",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_764_072_000,
            "Keys": {"pk": {"S": format!("PRODUCT#{SAMPLE_ID}")}, "sk": {"S": "STOCK"}},
            "OldImage": image(12, 1),
            "NewImage": image(8, 2),
            "SequenceNumber": "2000000000000000000001",
            "SizeBytes": 320,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/InventoryTable/stream/2026-11-25T00:00:00.000"
    }]})
}

/// A sample `ReviewsTable` stream batch for reviews-events: a product's summary gains a
/// five-star review (the catalog hears of its new rating).
pub fn reviews_events_event() -> Value {
    let image = |c4: i64, c5: i64, version: u64| {
        let summary = reviews::domain::Summary { c4, c5, version, ..Default::default() };
        let mut item: serde_dynamo::Item = serde_dynamo::to_item(summary).unwrap_or_default();
        for (k, v) in [("pk", format!("PRODUCT#{SAMPLE_ID}")), ("sk", "SUMMARY".into()), ("productId", SAMPLE_ID.into())] {
            item.insert(k.into(), serde_dynamo::AttributeValue::S(v));
        }
        serde_json::to_value(item).unwrap_or_default()
    };
    json!({"Records": [{
        "eventID": "d3d9446802a44259755d38e6d163e820",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_764_072_000,
            "Keys": {"pk": {"S": format!("PRODUCT#{SAMPLE_ID}")}, "sk": {"S": "SUMMARY"}},
            "OldImage": image(1, 1, 2),
            "NewImage": image(1, 2, 3),
            "SequenceNumber": "3000000000000000000001",
            "SizeBytes": 180,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/ReviewsTable/stream/2026-11-25T00:00:00.000"
    }]})
}

/// Every sample: (relative path, event).
pub fn all(template: &Template) -> Result<Vec<(String, Value)>, sam_model::TemplateError> {
    let mut out = Vec::new();
    for route in template.routes()? {
        out.push((format!("api/{}.json", route.logical_id), route_event(&route)));
    }
    out.push(("sqs/notifications-user-registered.json".into(), notifications_event()));
    out.push(("sqs/mail-feedback-bounce.json".into(), mail_feedback_event()));
    out.push(("dynamodb/catalog-indexer-product-changes.json".into(), catalog_indexer_event()));
    out.push(("invoke/catalog-indexer-reindex.json".into(), json!({"action": "reindex"})));
    out.push(("dynamodb/inventory-events-stock-changes.json".into(), inventory_events_event()));
    out.push((
        "invoke/inventory-events-schedule.json".into(),
        schedule_event("0190a000-0000-7000-8000-0000000000e2", "InventoryEventsFunction"),
    ));
    out.push(("sqs/inventory-events-order-confirmed.json".into(), inventory_order_event()));
    out.push(("sqs/cart-events-order-cancelled.json".into(), cart_order_event()));
    out.push(("dynamodb/reviews-events-summary-changes.json".into(), reviews_events_event()));
    out.push(("invoke/orders-events-schedule.json".into(), schedule_event("0190a000-0000-7000-8000-0000000000e5", "OrdersEventsFunction")));
    out.push(("sqs/payments-events-order-cancelled.json".into(), payments_order_event()));
    out.push((
        "invoke/payments-events-schedule.json".into(),
        schedule_event("0190a000-0000-7000-8000-0000000000e7", "PaymentsEventsFunction"),
    ));
    Ok(out)
}

/// Writes the samples under `dir`.
pub fn write(template: &Template, dir: &Path) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let events = all(template)?;
    for (path, event) in &events {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, serde_json::to_string_pretty(event)? + "\n")?;
    }
    Ok(events.len())
}
