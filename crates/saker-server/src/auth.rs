//! HTTP basic authentication (Kestra's `kestra.server.basic-auth`): every route but the open
//! ones (`/ping`, `/health`, webhook triggers) needs `Authorization: Basic …` naming a
//! configured user whose argon2id PHC hash matches the password.
//!
//! - Passwords are checked with argon2 (memory-hard, tens of milliseconds): the check runs on
//!   the blocking pool, and a header that passed is remembered by a keyed 64-bit digest (never
//!   the password itself), so a client sending the same credentials on every request pays the
//!   argon2 cost once.
//! - Usernames are compared in constant time, every user is looked at, and an unknown user
//!   still pays one argon2 check: timing tells nothing about which usernames exist.
//! - A refusal is 401 in Kestra's error shape with `WWW-Authenticate: Basic realm="…"`.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Paths served without credentials (prefixes end with `/`), as Kestra's default
/// `open-urls`: liveness probes and webhook triggers (their key is their secret).
pub const OPEN_PATHS: &[&str] = &[
    "/ping",
    "/health",
    "/api/v1/executions/webhook/",
    "/api/v1/main/executions/webhook/",
];

/// How many verified credentials are remembered before the memory is cleared.
const REMEMBERED: usize = 1024;

/// One user allowed in.
#[derive(Clone)]
pub struct User {
    pub username: String,
    /// An argon2 PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub password_hash: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The basic-auth settings of a server.
#[derive(Debug)]
pub struct BasicAuth {
    pub realm: String,
    users: Vec<User>,
    /// Keyed digests of `Authorization` values already verified.
    verified: Mutex<HashSet<u64>>,
    keys: std::collections::hash_map::RandomState,
    /// Checked when the username is unknown, so that case costs the same as a wrong password.
    dummy_hash: String,
}

impl BasicAuth {
    /// `users` must hold argon2 PHC strings (see [`hash_password`]); an invalid one is an error
    /// naming the user.
    pub fn new(realm: impl Into<String>, users: Vec<User>) -> Result<Self, String> {
        if users.is_empty() {
            return Err("basic auth needs at least one user".to_owned());
        }
        for user in &users {
            check_hash(&user.password_hash)
                .map_err(|e| format!("user '{}': {e}", user.username))?;
        }
        Ok(BasicAuth {
            realm: realm.into(),
            users,
            verified: Mutex::default(),
            keys: std::collections::hash_map::RandomState::new(),
            dummy_hash: hash_password("not a password")?,
        })
    }

    pub fn usernames(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(|u| u.username.as_str())
    }

    fn digest(&self, header: &[u8]) -> u64 {
        let mut hasher = self.keys.build_hasher();
        hasher.write(header);
        hasher.finish()
    }

    /// Whether an `Authorization` header value names a user with the right password.
    pub async fn allows(self: &Arc<Self>, header: Option<&HeaderValue>) -> bool {
        let Some(header) = header else {
            return false;
        };
        let digest = self.digest(header.as_bytes());
        if self.verified.lock().is_ok_and(|v| v.contains(&digest)) {
            return true;
        }
        let Some((username, password)) = decode(header) else {
            return false;
        };
        let this = self.clone();
        let ok = tokio::task::spawn_blocking(move || this.verify(&username, &password))
            .await
            .unwrap_or(false);
        if ok && let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= REMEMBERED {
                verified.clear();
            }
            verified.insert(digest);
        }
        ok
    }

    fn verify(&self, username: &str, password: &str) -> bool {
        let mut found: Option<&User> = None;
        for user in &self.users {
            if bool::from(user.username.as_bytes().ct_eq(username.as_bytes())) {
                found = Some(user);
            }
        }
        let hash = found.map_or(self.dummy_hash.as_str(), |u| u.password_hash.as_str());
        let matches = argon2::Argon2::default()
            .verify_password(password.as_bytes(), hash)
            .is_ok();
        matches && found.is_some()
    }
}

/// `Basic base64(user:password)` → `(user, password)`.
fn decode(header: &HeaderValue) -> Option<(String, String)> {
    let text = header.to_str().ok()?;
    let (scheme, encoded) = text.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Whether `text` is an argon2 PHC string this server can verify against.
pub fn check_hash(text: &str) -> Result<(), String> {
    if !text.starts_with("$argon2") {
        return Err("the password is not an argon2 PHC hash ($argon2id$…)".to_owned());
    }
    argon2::password_hash::phc::PasswordHash::new(text)
        .map(|_| ())
        .map_err(|e| format!("invalid argon2 hash: {e}"))
}

/// Whether `text` looks like a PHC hash rather than a plain password.
pub fn is_hash(text: &str) -> bool {
    text.starts_with("$argon2")
}

/// An argon2id PHC string of `password` with a random salt (default parameters).
pub fn hash_password(password: &str) -> Result<String, String> {
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `path` is served without credentials.
pub fn is_open(path: &str) -> bool {
    OPEN_PATHS.iter().any(|open| {
        if open.ends_with('/') {
            path.starts_with(open)
        } else {
            path == *open
        }
    })
}

/// The middleware: passes open paths and authenticated requests, answers 401 otherwise.
pub async fn require(auth: Arc<BasicAuth>, request: Request, next: Next) -> Response {
    if is_open(request.uri().path())
        || auth
            .allows(request.headers().get(header::AUTHORIZATION))
            .await
    {
        return next.run(request).await;
    }
    unauthorized(&auth.realm)
}

fn unauthorized(realm: &str) -> Response {
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "Unauthorized: missing or invalid credentials",
    )
    .into_response();
    let challenge = format!("Basic realm=\"{}\"", realm.replace('"', "'"));
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> HeaderValue {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[tokio::test]
    async fn verifies_users_against_their_hashes() {
        let auth = Arc::new(
            BasicAuth::new(
                "Saker",
                vec![
                    User {
                        username: "admin".into(),
                        password_hash: hash_password("s3cret").unwrap(),
                    },
                    User {
                        username: "ops".into(),
                        password_hash: hash_password("other:pw").unwrap(),
                    },
                ],
            )
            .unwrap(),
        );
        assert!(auth.allows(Some(&basic("admin", "s3cret"))).await);
        // Remembered: the second check does not need argon2 (same answer either way).
        assert!(auth.allows(Some(&basic("admin", "s3cret"))).await);
        // A colon inside the password belongs to the password.
        assert!(auth.allows(Some(&basic("ops", "other:pw"))).await);
        assert!(!auth.allows(Some(&basic("admin", "wrong"))).await);
        assert!(!auth.allows(Some(&basic("nobody", "s3cret"))).await);
        assert!(!auth.allows(Some(&basic("ops", "s3cret"))).await);
        assert!(!auth.allows(None).await);
        assert!(
            !auth
                .allows(Some(&HeaderValue::from_static("Bearer abc")))
                .await
        );
        assert!(
            !auth
                .allows(Some(&HeaderValue::from_static("Basic !!!notbase64")))
                .await
        );
    }

    #[test]
    fn hashes_are_checked() {
        let hash = hash_password("pw").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(check_hash(&hash).is_ok());
        assert!(check_hash("pw").is_err());
        assert!(check_hash("$argon2id$garbage").is_err());
        let error = BasicAuth::new(
            "r",
            vec![User {
                username: "a".into(),
                password_hash: "plain".into(),
            }],
        )
        .unwrap_err();
        assert!(error.contains("user 'a'"), "{error}");
        assert!(BasicAuth::new("r", vec![]).is_err());
    }

    #[test]
    fn open_paths() {
        assert!(is_open("/ping"));
        assert!(is_open("/health"));
        assert!(is_open("/api/v1/executions/webhook/ns/flow/key"));
        assert!(is_open("/api/v1/main/executions/webhook/ns/flow/key"));
        assert!(!is_open("/pingx"));
        assert!(!is_open("/metrics"));
        assert!(!is_open("/api/v1/flows/search"));
        assert!(!is_open("/api/v1/executions/webhookx"));
    }
}
