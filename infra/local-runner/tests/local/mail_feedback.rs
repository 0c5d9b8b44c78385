//! SES bounce feedback through the template's topic and queue: a permanently bounced address
//! gets no more mail, another address still does.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{eventually, mails_to, start};

#[tokio::test]
async fn a_bounced_address_gets_no_more_mail_while_others_do() {
    let app = start(true).await;
    let bounced = format!("{}@example.com", shop_testkit::unique("bounced"));
    let other = format!("{}@example.com", shop_testkit::unique("other"));
    // What SES's configuration set publishes to MailFeedbackTopic for a permanent bounce
    // (the notice of events/sqs/mail-feedback-bounce.json).
    let notice = json!({
        "eventType": "Bounce",
        "bounce": {"feedbackId": "0100018c-fb", "bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": bounced, "action": "failed", "status": "5.1.1"}],
            "timestamp": "2026-12-06T03:00:00.000Z"},
        "mail": {"timestamp": "2026-12-06T02:59:59.000Z", "source": "noreply@skyshop.local", "messageId": "0100018c-m", "destination": [bounced]}
    });
    let topic = app.cloud.provisioned.resolver.refs["MailFeedbackTopic"].clone();
    aws_sdk_sns::Client::new(&app.cloud.sdk).publish().topic_arn(&topic).message(notice.to_string()).send().await.unwrap();

    // mail-feedback stores the suppression (its queue is polled like every SQS source).
    let table = app.cloud.environments["MailFeedbackFunction"]["NOTIFICATIONS_TABLE"].clone();
    let ddb = aws_sdk_dynamodb::Client::new(&app.cloud.sdk);
    let key = aws_sdk_dynamodb::types::AttributeValue::S(format!("SUPPRESSED#{bounced}"));
    eventually("the bounce is recorded", || {
        let (ddb, table, key) = (ddb.clone(), table.clone(), key.clone());
        async move { ddb.get_item().table_name(table).key("pk", key).send().await.unwrap().item.is_some() }
    })
    .await;

    for email in [&bounced, &other] {
        let r = app
            .call(
                "POST",
                "/api/auth/register",
                None,
                Some(json!({"email": email, "password": "Correct-Horse-9", "firstName": "A", "lastName": "B"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    eventually("the other address gets its welcome", || async { !mails_to(&app, &other).await.is_empty() }).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(mails_to(&app, &bounced).await.is_empty(), "nothing is sent to the bounced address");
}
