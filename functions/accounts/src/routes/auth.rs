//! `/api/auth/*`: register, login, refresh (rotation + reuse detection), logout, password reset.

use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use shop_core::auth::{Caller, Claims, Role};
use shop_core::extract::ValidJson;
use shop_core::problem::responses::Unauthorized;
use shop_core::time::Timestamp;
use shop_core::{ApiError, ApiResult, FieldError};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{Email, RefreshRecord, ResetRecord, Session, User, UserView, not_blank};
use crate::routes::{Message, current_user};
use crate::store::{Outcome, Rotation};
use crate::tokens::{self, ACCESS_TTL_SECS, REFRESH_TTL_SECS, RESET_TTL_SECS};
use crate::{AppState, password};

shop_core::problem_responses! {
    /// The body is not JSON.
    MalformedJson: 400 => "Malformed JSON";
    /// Registration with a taken email.
    EmailTaken: 409 => "Email already registered (`email_taken`)";
    /// A body field is missing or invalid.
    InvalidFields: 422 => "Invalid fields";
    /// Unknown email, wrong password or deactivated account, told apart nowhere.
    InvalidCredentials: 401 => "Invalid credentials (one generic answer)";
    /// Login brute-force protection.
    TooManyAttempts: 429 => "Too many failed attempts for this account or address; see `Retry-After`";
    /// A refresh token that cannot be exchanged.
    InvalidRefreshToken: 401 => "Invalid, expired, reused (`refresh_token_reused`) or inactive account";
    /// A password-reset token that cannot be used.
    InvalidResetToken: 400 => "Invalid, used or expired token (`invalid_reset_token`)";
    /// A password reset whose fields or new password are refused.
    InvalidNewPassword: 422 => "Invalid fields (password policy)";
}

/// Failed logins allowed per account per window before 429.
pub const ACCOUNT_FAILURE_LIMIT: u32 = 5;
/// Failed logins allowed per source IP per window before 429.
pub const IP_FAILURE_LIMIT: u32 = 50;
/// Reset emails per account per window.
pub const RESET_REQUEST_LIMIT: u32 = 5;
/// The brute-force window: 15 minutes.
pub const WINDOW_SECS: i64 = 15 * 60;

/// garde rule: the server-side password policy.
pub fn password_policy(value: &str, _: &()) -> garde::Result {
    password::check_policy(value).map_err(garde::Error::new)
}

#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    #[garde(custom(shop_core::types::valid_email))]
    #[serde(deserialize_with = "shop_core::extract::trimmed")]
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 8–128 characters with an upper-case letter, a lower-case letter and a digit or symbol.
    #[garde(custom(password_policy))]
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    #[garde(length(chars, min = 1, max = 50), custom(not_blank))]
    #[schema(min_length = 1, max_length = 50, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub first_name: String,
    #[garde(length(chars, min = 1, max = 50), custom(not_blank))]
    #[schema(min_length = 1, max_length = 50, pattern = r"[^\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]")]
    pub last_name: String,
}

#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    #[garde(custom(shop_core::types::valid_email))]
    #[serde(deserialize_with = "shop_core::extract::trimmed")]
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[garde(length(chars, min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
}

#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    #[garde(length(chars, min = 1, max = 512))]
    #[schema(min_length = 1, max_length = 512)]
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    #[garde(custom(shop_core::types::valid_email))]
    #[serde(deserialize_with = "shop_core::extract::trimmed")]
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

#[derive(Debug, Deserialize, garde::Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPasswordRequest {
    #[garde(length(chars, min = 1, max = 512))]
    #[schema(min_length = 1, max_length = 512)]
    pub token: String,
    #[garde(custom(password_policy))]
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// A new access + refresh token pair.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    /// RS256 JWT, valid 15 minutes. Send as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Opaque, valid 7 days, single use: every refresh returns a new one.
    pub refresh_token: String,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// Tokens and the user they belong to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub user: UserView,
}

impl AuthResponse {
    fn new(tokens: TokenPair, user: &User) -> Self {
        Self {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            token_type: tokens.token_type,
            expires_in: tokens.expires_in,
            user: UserView::from(user),
        }
    }
}

async fn access_token(state: &AppState, user_id: Uuid, role: Role, session_id: Uuid) -> ApiResult<String> {
    let keys = state.keys.current().await;
    tokens::issue_access_token(&keys, &state.issuer, &state.audience, user_id, role, session_id).map_err(|e| ApiError::internal(&e))
}

fn pair(access_token: String, refresh_token: String) -> TokenPair {
    TokenPair { access_token, refresh_token, token_type: "Bearer".into(), expires_in: ACCESS_TTL_SECS }
}

/// The request's email, parsed at the edge (the DTO's rule already checked it).
fn email_of(raw: &str) -> ApiResult<Email> {
    Email::parse(raw).map_err(|message| ApiError::validation(vec![FieldError::new("email", "invalid", message)]))
}

fn hash_error(err: password::HashError) -> ApiError {
    ApiError::internal(&err)
}

/// Create an account (role CUSTOMER) and log it in.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created and logged in", body = AuthResponse),
        MalformedJson,
        EmailTaken,
        InvalidFields,
    ))]
#[tracing::instrument(skip_all)]
pub async fn register(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    let now = Timestamp::now();
    let password_hash = password::hash(body.password).await.map_err(hash_error)?;
    let user = User::new(email_of(&body.email)?, &body.first_name, &body.last_name, Role::Customer, password_hash, now);
    let opened = Session::open(&user, caller.user_agent, caller.source_ip, now);
    if state.store.create_user(&user, &opened.session, &opened.hash, &opened.record).await? == Outcome::ConditionFailed {
        return Err(ApiError::conflict("email_taken", "An account with this email already exists.").with_errors(vec![FieldError::new(
            "email",
            "taken",
            "is already registered",
        )]));
    }
    let access = access_token(&state, user.id, user.role, opened.session.id).await?;
    let welcome =
        shop_aws::messages::UserRegistered { user_id: user.id, email: user.email.to_string(), first_name: user.first_name.clone() };
    state.notify(welcome).await;
    tracing::info!(user_id = %user.id, "user registered");
    shop_core::metrics::count("accounts", "UserRegistered");
    Ok((StatusCode::CREATED, Json(AuthResponse::new(pair(access, opened.token), &user))))
}

/// Log in with email and password.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = AuthResponse),
        InvalidCredentials,
        InvalidFields,
        TooManyAttempts,
    ))]
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<LoginRequest>,
) -> ApiResult<Json<AuthResponse>> {
    let now = Timestamp::now();
    let email = email_of(&body.email)?;
    let window = now.unix_timestamp().div_euclid(WINDOW_SECS);
    let retry_after = (window + 1) * WINDOW_SECS - now.unix_timestamp();
    let account_key = format!("LOGIN#{email}");
    let ip_key = format!("IP#{}", caller.client_key());
    // Count first, decide after: concurrent guesses each get their own number, so no more than
    // the limit of them are ever checked. A login that succeeds takes its count back.
    let expires = (window + 2) * WINDOW_SECS;
    let (account_attempts, ip_attempts) =
        tokio::try_join!(state.store.record_failure(&account_key, window, expires), state.store.record_failure(&ip_key, window, expires))?;
    if account_attempts > ACCOUNT_FAILURE_LIMIT || ip_attempts > IP_FAILURE_LIMIT {
        shop_core::metrics::count("accounts", "LoginThrottled");
        return Err(ApiError::too_many_requests(
            "too_many_attempts",
            retry_after.unsigned_abs(),
            "Too many failed login attempts; try again later.",
        ));
    }
    let invalid = || {
        tracing::info!("login failed");
        shop_core::metrics::count("accounts", "LoginFailed");
        ApiError::unauthorized("invalid_credentials", "Invalid email or password.")
    };
    let user = state.store.user_by_email(&email).await?;
    let valid = password::verify(body.password, user.as_ref().map(|u| u.password_hash.clone())).await.map_err(hash_error)?;
    let Some(user) = user.filter(|u| valid && u.is_active) else {
        return Err(invalid());
    };
    let opened = Session::open(&user, caller.user_agent, caller.source_ip, now);
    // The session exists only if the password just checked is still the account's: a login
    // racing a reset or change gets nothing.
    if state.store.create_session(&user, &opened).await? == Outcome::ConditionFailed {
        return Err(invalid());
    }
    tokio::try_join!(state.store.clear_failures(&account_key, window), state.store.uncount(&ip_key, window))?;
    let access = access_token(&state, user.id, user.role, opened.session.id).await?;
    tracing::info!(user_id = %user.id, "login");
    shop_core::metrics::count("accounts", "LoginSucceeded");
    Ok(Json(AuthResponse::new(pair(access, opened.token), &user)))
}

fn invalid_refresh() -> ApiError {
    ApiError::unauthorized("invalid_refresh_token", "The refresh token is invalid or expired.")
}

/// Exchange a refresh token for a new pair. The presented token is spent; presenting it again
/// revokes the whole session (token family).
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenPair),
        InvalidRefreshToken,
        InvalidFields,
    ))]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    State(state): State<AppState>,
    caller: Caller,
    ValidJson(body): ValidJson<RefreshRequest>,
) -> ApiResult<Json<TokenPair>> {
    let now = Timestamp::now();
    let old_hash = tokens::token_hash(&body.refresh_token);
    let Some(record) = state.store.refresh_record(&old_hash).await? else {
        return Err(invalid_refresh());
    };
    if record.expires_at <= now.unix_timestamp() {
        return Err(invalid_refresh());
    }
    let (session, user) = tokio::try_join!(state.store.session(record.user_id, record.session_id), state.store.user(record.user_id))?;
    let Some(mut session) = session else {
        return Err(invalid_refresh());
    };
    if session.current_hash != old_hash {
        return Err(revoke_family(&state, &session).await);
    }
    let Some(user) = user.filter(|u| u.is_active) else {
        state.store.delete_session(session.user_id, session.id).await?;
        return Err(ApiError::unauthorized("account_inactive", "This account is deactivated."));
    };
    if !user.honours(&session) {
        return Err(session_ended(&state, &session).await);
    }
    let new_token = tokens::random_token();
    let new_hash = tokens::token_hash(&new_token);
    let expires_at = now.unix_timestamp() + REFRESH_TTL_SECS;
    session.current_hash = new_hash.clone();
    session.last_used_at = now;
    session.expires_at = expires_at;
    if caller.user_agent.is_some() {
        session.user_agent = caller.user_agent.map(|ua| ua.chars().take(256).collect());
    }
    if caller.source_ip.is_some() {
        session.ip_address = caller.source_ip;
    }
    let new_record = RefreshRecord { user_id: user.id, session_id: session.id, expires_at };
    match state.store.rotate(&session, &old_hash, &new_hash, &new_record).await? {
        Rotation::Rotated => {}
        // Someone used this token between our read and our write: a second use.
        Rotation::Reused => return Err(revoke_family(&state, &session).await),
        // The password, role or status changed between our read and our write.
        Rotation::Ended => return Err(session_ended(&state, &session).await),
    }
    let access = access_token(&state, user.id, user.role, session.id).await?;
    Ok(Json(pair(access, new_token)))
}

/// The session belongs to an older epoch (password reset or change, role change, logout-all):
/// it is over. The item goes now (it would expire anyway).
async fn session_ended(state: &AppState, session: &Session) -> ApiError {
    if let Err(err) = state.store.delete_session(session.user_id, session.id).await {
        return ApiError::from(err);
    }
    ApiError::unauthorized("session_revoked", "This session has ended; log in again.")
}

/// A spent refresh token came back: whoever holds the family may be an attacker. End it.
async fn revoke_family(state: &AppState, session: &Session) -> ApiError {
    tracing::warn!(user_id = %session.user_id, session_id = %session.id, "refresh token reuse detected; session revoked");
    shop_core::metrics::count("accounts", "RefreshTokenReused");
    if let Err(err) = state.store.delete_session(session.user_id, session.id).await {
        return ApiError::from(err);
    }
    ApiError::unauthorized("refresh_token_reused", "This refresh token was already used; the session has been revoked.")
}

/// End the session of a refresh token. Answers the same whether or not the token was known.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = Message),
        InvalidFields,
    ))]
#[tracing::instrument(skip_all)]
pub async fn logout(State(state): State<AppState>, ValidJson(body): ValidJson<RefreshRequest>) -> ApiResult<Json<Message>> {
    let hash = tokens::token_hash(&body.refresh_token);
    if let Some(record) = state.store.refresh_record(&hash).await? {
        state.store.delete_session(record.user_id, record.session_id).await?;
    }
    Ok(Message::new("Logged out successfully"))
}

/// End every session of the caller.
#[utoipa::path(post, path = "/api/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, body = Message),
        Unauthorized,
    ))]
#[tracing::instrument(skip_all)]
pub async fn logout_all(State(state): State<AppState>, claims: Claims) -> ApiResult<Json<Message>> {
    let user = current_user(&state, &claims).await?;
    state.store.end_sessions(user.id).await?;
    tracing::info!(user_id = %user.id, "logged out everywhere");
    Ok(Message::new("Logged out from all devices"))
}

const FORGOT_ANSWER: &str = "If an account exists with this email, you will receive a password reset link.";

/// Email a one-time reset link (valid 1 hour). The answer never reveals whether the email exists.
#[utoipa::path(post, path = "/api/auth/forgot-password", tag = "auth", request_body = ForgotPasswordRequest,
    responses(
        (status = 200, body = Message),
        InvalidFields,
    ))]
#[tracing::instrument(skip_all)]
pub async fn forgot_password(State(state): State<AppState>, ValidJson(body): ValidJson<ForgotPasswordRequest>) -> ApiResult<Json<Message>> {
    // The same work, then the same floor, whether or not the email exists: the answer's timing
    // does not tell an unknown address from a known one.
    let started = tokio::time::Instant::now();
    let result = request_reset(&state, &body.email).await;
    tokio::time::sleep_until(started + FORGOT_FLOOR).await;
    result.map(|()| Message::new(FORGOT_ANSWER))
}

/// How long `forgot-password` takes at least (the known-email path stays well under it).
pub const FORGOT_FLOOR: std::time::Duration = std::time::Duration::from_millis(400);

async fn request_reset(state: &AppState, raw_email: &str) -> ApiResult<()> {
    let now = Timestamp::now();
    let email = email_of(raw_email)?;
    // At most RESET_REQUEST_LIMIT reset requests per address per window, counted for unknown
    // addresses too: no mail bombing, and both paths write the same.
    let window = now.unix_timestamp().div_euclid(WINDOW_SECS);
    let counter = format!("RESET#{}", tokens::token_hash(email.as_str()));
    let (user, sent) =
        tokio::try_join!(state.store.user_by_email(&email), state.store.record_failure(&counter, window, (window + 2) * WINDOW_SECS))?;
    let Some(user) = user.filter(|u| u.is_active) else { return Ok(()) };
    if sent > RESET_REQUEST_LIMIT {
        tracing::warn!(user_id = %user.id, "reset requests over the limit; not sending");
        return Ok(());
    }
    let token = tokens::random_hex_token();
    let hash = tokens::token_hash(&token);
    let record = ResetRecord { user_id: user.id, expires_at: now.unix_timestamp() + RESET_TTL_SECS };
    state.store.create_reset(&hash, &record).await?;
    let event = shop_aws::messages::PasswordResetRequested {
        user_id: user.id,
        email: user.email.to_string(),
        first_name: user.first_name.clone(),
        token,
        expires_in_minutes: (RESET_TTL_SECS / 60) as u32,
    };
    state.notify(event).await;
    Ok(())
}

fn invalid_reset() -> ApiError {
    ApiError::bad_request("invalid_reset_token", "The reset token is invalid or expired.").with_errors(vec![FieldError::new(
        "token",
        "invalid",
        "is invalid or expired",
    )])
}

/// Set a new password with a reset token. Single use; ends every session.
#[utoipa::path(post, path = "/api/auth/reset-password", tag = "auth", request_body = ResetPasswordRequest,
    responses(
        (status = 200, body = Message),
        InvalidResetToken,
        InvalidNewPassword,
    ))]
#[tracing::instrument(skip_all)]
pub async fn reset_password(State(state): State<AppState>, ValidJson(body): ValidJson<ResetPasswordRequest>) -> ApiResult<Json<Message>> {
    let now = Timestamp::now();
    let hash = tokens::token_hash(&body.token);
    let Some(record) = state.store.reset_record(&hash).await? else {
        return Err(invalid_reset());
    };
    if record.expires_at <= now.unix_timestamp() {
        return Err(invalid_reset());
    }
    let password_hash = password::hash(body.new_password).await.map_err(hash_error)?;
    if state.store.consume_reset(&hash, record.user_id, &password_hash, now).await? == Outcome::ConditionFailed {
        return Err(invalid_reset());
    }
    // The reset bumped the session epoch in the same write: every session is over.
    tracing::info!(user_id = %record.user_id, "password reset; sessions ended");
    shop_core::metrics::count("accounts", "PasswordReset");
    if let Some(user) = state.store.user(record.user_id).await? {
        let event = shop_aws::messages::PasswordChanged { user_id: user.id, email: user.email.to_string(), first_name: user.first_name };
        state.notify(event).await;
    }
    Ok(Message::new("Password has been reset successfully"))
}

/// The caller's profile.
#[utoipa::path(get, path = "/api/auth/profile", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, body = UserView),
        Unauthorized,
    ))]
pub async fn profile(State(state): State<AppState>, claims: Claims) -> ApiResult<Json<UserView>> {
    let user = current_user(&state, &claims).await?;
    Ok(Json(UserView::from(&user)))
}
