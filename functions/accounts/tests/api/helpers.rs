use std::sync::OnceLock;

use accounts::config::Config;
use accounts::keys::{KeyDocument, KeyRing, SigningKeys};
use accounts::store::Store;
use accounts::{AppState, router};
use axum::Router;
use sam_model::authorizer::JwtAuthorizer;
use serde_json::{Value, json};
use shop_aws::events::Publisher;
use shop_testkit::{Req, Resp};

pub const ISSUER: &str = "https://api.skyshop.test";
pub const AUDIENCE: &str = "skyshop";
pub const PASSWORD: &str = "Correct-Horse-9";

/// One RSA key document per test binary (key generation is the slow part).
pub fn key_document() -> &'static KeyDocument {
    static DOC: OnceLock<KeyDocument> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = KeyDocument::default();
        doc.add_generated("test-1".into(), "2026-01-01T00:00:00Z".into()).unwrap();
        doc
    })
}

pub struct App {
    pub router: Router,
    pub state: AppState,
    pub authorizer: JwtAuthorizer,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

pub async fn app() -> App {
    app_with_keys(KeyRing::fixed(SigningKeys::from_document(key_document()).unwrap())).await
}

/// An app whose signing keys come from `keys` (the authorizer trusts the test key document).
pub async fn app_with_keys(keys: KeyRing) -> App {
    let (ddb, table) = shop_testkit::table("AccountsTable").await;
    let (sqs, queue_url) = shop_testkit::queue("NotificationsQueue").await;
    let authorizer = JwtAuthorizer::new(ISSUER, vec![AUDIENCE.into()], SigningKeys::from_document(key_document()).unwrap().jwks());
    let config = Config {
        table: table.clone(),
        notifications_queue_url: queue_url.clone(),
        signing_keys_secret_id: "unused".into(),
        jwt_issuer: ISSUER.into(),
        jwt_audience: AUDIENCE.into(),
        frontend_url: "http://localhost:3000".into(),
    };
    let state = AppState::new(Store::new(ddb, table), Publisher::new(sqs.clone(), &queue_url, "accounts"), keys, &config);
    App { router: router(state.clone()), state, authorizer, sqs, queue_url }
}

pub fn email() -> String {
    format!("{}@example.com", shop_testkit::unique("user"))
}

impl App {
    pub async fn send(&self, req: Req) -> Resp {
        req.send(&self.router).await
    }

    /// Sends `req` with `Authorization: Bearer <token>` after the JWT authorizer accepted it.
    pub async fn send_as(&self, token: &str, req: Req) -> Resp {
        let header = format!("Bearer {token}");
        match self.authorizer.authorize(Some(&header), &[]) {
            Ok(claims) => req.header("authorization", &header).claims(claims).send(&self.router).await,
            Err(denial) => panic!("the authorizer refused the token: {denial:?}"),
        }
    }

    pub async fn register(&self, email: &str) -> Value {
        self.send(
            Req::post("/api/auth/register").json(json!({"email": email, "password": PASSWORD, "firstName": "Ada", "lastName": "Lovelace"})),
        )
        .await
        .expect(201)
    }

    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.send(Req::post("/api/auth/login").json(json!({"email": email, "password": password}))).await
    }

    /// Registers a new user and returns (email, accessToken, refreshToken, userId).
    pub async fn new_user(&self) -> (String, String, String, String) {
        let email = email();
        let body = self.register(&email).await;
        (
            email,
            body["accessToken"].as_str().unwrap().to_owned(),
            body["refreshToken"].as_str().unwrap().to_owned(),
            body["user"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// A logged-in admin: (accessToken, userId).
    pub async fn admin(&self) -> (String, String) {
        let email = email();
        accounts::admin::ensure_admin(&self.state, &email, PASSWORD).await.unwrap();
        let body = self.login(&email, PASSWORD).await.expect(200);
        (body["accessToken"].as_str().unwrap().to_owned(), body["user"]["id"].as_str().unwrap().to_owned())
    }

    pub async fn refresh(&self, token: &str) -> Resp {
        self.send(Req::post("/api/auth/refresh").json(json!({"refreshToken": token}))).await
    }

    /// Every message published to the notifications queue so far.
    pub async fn messages(&self) -> Vec<Value> {
        shop_testkit::drain(&self.sqs, &self.queue_url).await
    }
}
