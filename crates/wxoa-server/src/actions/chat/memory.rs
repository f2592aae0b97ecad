//! A follower's conversation with a chat profile, kept in their session (the session store:
//! memory, SQLite or Redis): the last turns, the parts of a long answer not yet shown, and
//! when they last spoke (a conversation idle too long is forgotten).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::actions::{ActionError, SessionStore};

/// One question and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// What the follower asked.
    pub user: String,
    /// What the model answered (as the model wrote it).
    pub assistant: String,
}

/// A conversation as stored under `chat:PROFILE` in the follower's session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// Past turns, oldest first.
    #[serde(default)]
    pub turns: Vec<Turn>,
    /// Parts of the last answer still to show, in order (the continue keyword takes one).
    #[serde(default)]
    pub more: Vec<String>,
    /// Unix seconds of the follower's last message.
    #[serde(default)]
    pub at: i64,
}

/// Rough token count: one per CJK character, one per four other characters.
#[must_use]
pub fn estimate_tokens(text: &str) -> u64 {
    let (wide, narrow) = text.chars().fold((0u64, 0u64), |(w, n), c| {
        if c.len_utf8() >= 3 {
            (w + 1, n)
        } else {
            (w, n + 1)
        }
    });
    wide + narrow.div_ceil(4)
}

impl Conversation {
    /// The latest turns, at most `max_turns` of them and within `token_budget` tokens
    /// (estimated), oldest first.
    #[must_use]
    pub fn history(&self, max_turns: usize, token_budget: u32) -> &[Turn] {
        let mut used = 0u64;
        let mut start = self.turns.len();
        for turn in self.turns.iter().rev().take(max_turns) {
            used += estimate_tokens(&turn.user) + estimate_tokens(&turn.assistant);
            if used > u64::from(token_budget) {
                break;
            }
            start -= 1;
        }
        &self.turns[start..]
    }

    /// Record a turn, keeping at most `max_turns`.
    pub fn record(&mut self, turn: Turn, max_turns: usize) {
        self.turns.push(turn);
        let excess = self.turns.len().saturating_sub(max_turns);
        self.turns.drain(..excess);
    }
}

/// The session of a follower with their conversation for one profile.
#[derive(Debug)]
pub(crate) struct Memory {
    session: Map<String, Value>,
    key: String,
    /// The conversation; change it, then [`Memory::save`].
    pub(crate) conversation: Conversation,
}

impl Memory {
    /// Load `openid`'s conversation with `profile`; one idle for `idle_secs` or more at `now`
    /// starts over.
    pub(crate) async fn load(
        sessions: &dyn SessionStore,
        openid: &str,
        profile: &str,
        now: i64,
        idle_secs: i64,
    ) -> Result<Self, ActionError> {
        let session = sessions.load(openid).await.map_err(ActionError::Session)?;
        let key = format!("chat:{profile}");
        let conversation = session
            .get(&key)
            .and_then(|v| match serde_json::from_value::<Conversation>(v.clone()) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(openid, profile, error = %e, "unreadable conversation; starting over");
                    None
                }
            })
            .filter(|c| now - c.at < idle_secs)
            .unwrap_or_default();
        Ok(Self {
            session,
            key,
            conversation,
        })
    }

    /// Store the conversation, stamped `now`.
    pub(crate) async fn save(
        mut self,
        sessions: &dyn SessionStore,
        openid: &str,
        now: i64,
    ) -> Result<(), ActionError> {
        self.conversation.at = now;
        let value = serde_json::to_value(&self.conversation).unwrap_or(Value::Null);
        self.session.insert(self.key, value);
        sessions
            .save(openid, &self.session)
            .await
            .map_err(ActionError::Session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::MemorySessionStore;

    fn turn(q: &str, a: &str) -> Turn {
        Turn {
            user: q.into(),
            assistant: a.into(),
        }
    }

    #[test]
    fn tokens_are_estimated() {
        assert_eq!(estimate_tokens("你好"), 2);
        assert_eq!(estimate_tokens("abcdefgh"), 2);
        assert_eq!(estimate_tokens("abc你"), 2);
    }

    #[test]
    fn history_keeps_the_latest_within_turns_and_tokens() {
        let mut c = Conversation::default();
        for i in 0..5 {
            c.record(turn(&format!("问{i}"), "答答答答"), 4);
        }
        assert_eq!(c.turns.len(), 4);
        assert_eq!(c.turns[0].user, "问1");
        assert_eq!(c.history(2, 1000).len(), 2);
        assert_eq!(c.history(2, 1000)[1].user, "问4");
        // Each turn is 2 + 4 = 6 tokens: a budget of 13 holds two.
        assert_eq!(c.history(10, 13).len(), 2);
        assert!(c.history(10, 3).is_empty());
        assert!(c.history(0, 1000).is_empty());
    }

    #[tokio::test]
    async fn stored_in_the_session_beside_other_keys_and_forgotten_when_idle() {
        let store = MemorySessionStore::new();
        let mut other = Map::new();
        other.insert("count".into(), Value::from(1));
        store.save("o", &other).await.unwrap();
        let mut m = Memory::load(&store, "o", "bot", 1000, 60).await.unwrap();
        assert!(m.conversation.turns.is_empty());
        m.conversation.record(turn("q", "a"), 10);
        m.save(&store, "o", 1000).await.unwrap();
        let session = store.get("o").unwrap();
        assert_eq!(session["count"], 1);
        assert!(session.contains_key("chat:bot"));
        let m = Memory::load(&store, "o", "bot", 1059, 60).await.unwrap();
        assert_eq!(m.conversation.turns.len(), 1);
        let m = Memory::load(&store, "o", "bot", 1060, 60).await.unwrap();
        assert!(m.conversation.turns.is_empty(), "idle too long");
    }
}
