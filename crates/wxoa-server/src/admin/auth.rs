//! Console logins: the argon2 password hash, in-memory sessions with expiry and a CSRF token
//! each, and the session cookie.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "wxoa_session";
/// The header carrying the session's CSRF token on every change.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The user name of a password login.
pub const PASSWORD_USER: &str = "admin";
/// The most sessions kept at once; the oldest is dropped beyond it.
const MAX_SESSIONS: usize = 1024;

/// Hashes `password` with argon2id (the crate's default parameters) and a random salt, as a
/// PHC string for `admin.password_hash`.
///
/// # Errors
/// The hasher refused the input (e.g. a password longer than argon2 allows).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks that `hash` is an argon2 PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
///
/// # Errors
/// What is wrong with it.
pub fn check_password_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash).map_err(|e| e.to_string())?;
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return Err(format!("algorithm {} is not argon2", parsed.algorithm));
    }
    if parsed.hash.is_none() {
        return Err("it has no hash part".to_owned());
    }
    Ok(())
}

/// Whether `password` matches the PHC string `hash` (false for a hash that does not parse).
/// Slow on purpose (tens of milliseconds): run it off the async threads.
#[must_use]
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A logged-in user, as the console's handlers see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user name (`admin` for the password, the SSO user otherwise).
    pub user: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// Unix seconds at which the session ends.
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
struct Session {
    caller: Caller,
    created_at: i64,
}

/// The sessions of this process (a restart logs everybody out), keyed by the cookie's value.
#[derive(Default)]
pub struct Sessions {
    by_token: Mutex<HashMap<String, Session>>,
}

impl std::fmt::Debug for Sessions {
    /// The count only: tokens are secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self
            .by_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Sessions").field("count", &count).finish()
    }
}

impl Sessions {
    /// Starts a session for `user` at `now` lasting `hours`; returns its cookie value and the
    /// caller.
    pub fn create(&self, user: &str, now: i64, hours: u64) -> (String, Caller) {
        let token = random_token();
        let secs = i64::try_from(hours.saturating_mul(3600)).unwrap_or(i64::MAX);
        let caller = Caller {
            user: user.to_owned(),
            csrf: random_token(),
            expires_at: now.saturating_add(secs),
        };
        let mut sessions = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.retain(|_, s| s.caller.expires_at > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.created_at)
                .map(|(t, _)| t.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            token.clone(),
            Session {
                caller: caller.clone(),
                created_at: now,
            },
        );
        (token, caller)
    }

    /// A live session of `user` (the longest-lasting one) if there is one, else a new one: a
    /// user signed in by the SSO proxy keeps one session however many requests arrive
    /// without the cookie.
    pub fn reuse_or_create(&self, user: &str, now: i64, hours: u64) -> (String, Caller) {
        let existing = {
            let sessions = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
            sessions
                .iter()
                .filter(|(_, s)| s.caller.user == user && s.caller.expires_at > now)
                .max_by_key(|(_, s)| s.caller.expires_at)
                .map(|(t, s)| (t.clone(), s.caller.clone()))
        };
        existing.unwrap_or_else(|| self.create(user, now, hours))
    }

    /// The caller of a live session, `None` for an unknown or expired token.
    pub fn get(&self, token: &str, now: i64) -> Option<Caller> {
        let sessions = self.by_token.lock().unwrap_or_else(PoisonError::into_inner);
        sessions
            .get(token)
            .filter(|s| s.caller.expires_at > now)
            .map(|s| s.caller.clone())
    }

    /// Ends the session of `token` (a no-op when there is none).
    pub fn remove(&self, token: &str) {
        self.by_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token);
    }
}

/// 32 random bytes as hex.
fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Compares two secrets in time independent of where they differ.
#[must_use]
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The `Set-Cookie` value of a session: HttpOnly, SameSite=Strict, Path=/, lasting `max_age`
/// seconds (0 removes it); `Secure` when the console is reached over HTTPS.
#[must_use]
pub fn session_cookie(token: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        max_age.max(0)
    )
}

/// The session token in a `Cookie` header, if any.
#[must_use]
pub fn cookie_token(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_and_checks() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        check_password_hash(&hash).unwrap();
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "wrong"));
        assert!(!verify_password("garbage", "x"));
        assert!(check_password_hash("plain").is_err());
        let other_algorithm = "$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2g";
        let err = check_password_hash(other_algorithm).unwrap_err();
        assert!(err.contains("not argon2"), "{err}");
    }

    #[test]
    fn sessions_expire_and_end() {
        let sessions = Sessions::default();
        let (token, caller) = sessions.create("admin", 1000, 1);
        assert_eq!(caller.expires_at, 4600);
        assert_eq!(sessions.get(&token, 4599), Some(caller));
        assert_eq!(sessions.get(&token, 4600), None, "expired");
        assert_eq!(sessions.get("other", 1000), None);
        let (token, _) = sessions.create("admin", 1000, 1);
        sessions.remove(&token);
        assert_eq!(sessions.get(&token, 1001), None);

        let (first, alice) = sessions.reuse_or_create("alice", 2000, 1);
        let (again, same) = sessions.reuse_or_create("alice", 2001, 1);
        assert_eq!(
            (first.as_str(), &alice),
            (again.as_str(), &same),
            "one session per SSO user"
        );
        let (later, _) = sessions.reuse_or_create("alice", 5600, 1);
        assert_ne!(later, first, "a new one once it expired");
        let shown = format!("{sessions:?}");
        assert!(!shown.contains(&later), "tokens are not printed: {shown}");
    }

    #[test]
    fn cookies_are_written_and_read() {
        let c = session_cookie("abc", 3600, false);
        assert_eq!(
            c,
            "wxoa_session=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=3600"
        );
        assert!(session_cookie("abc", 1, true).ends_with("; Secure"));
        assert_eq!(cookie_token("a=1; wxoa_session=tok; b=2"), Some("tok"));
        assert_eq!(cookie_token("a=1"), None);
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
