//! What `/readyz` reports: ready, degraded (pushes are answered, with a fault worked around)
//! or not ready (the instance should get no traffic).

/// The state of an instance, as `/readyz` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Rules loaded, every store reachable.
    Ready,
    /// Pushes are answered, but something is worked around: Redis down (local fallbacks),
    /// the message log failing to write (retrying). Each entry says what.
    Degraded(Vec<String>),
    /// Pushes cannot be answered correctly (CGI's shared dedup store unreachable).
    NotReady(String),
}

impl Readiness {
    /// `Ready` when `problems` is empty, else `Degraded` with them.
    #[must_use]
    pub fn from_problems(problems: Vec<String>) -> Self {
        if problems.is_empty() {
            Self::Ready
        } else {
            Self::Degraded(problems)
        }
    }

    /// `ready`, `degraded` or `not_ready`: the `status` field of the JSON form.
    #[must_use]
    pub fn status(&self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Degraded(_) => "degraded",
            Self::NotReady(_) => "not_ready",
        }
    }

    /// Whether a load balancer should send pushes here: ready or degraded (answered either
    /// way); `/readyz` answers 200 then, 503 otherwise.
    #[must_use]
    pub fn serves(&self) -> bool {
        !matches!(self, Self::NotReady(_))
    }

    /// What is wrong, if anything.
    #[must_use]
    pub fn problems(&self) -> Vec<String> {
        match self {
            Self::Ready => Vec::new(),
            Self::Degraded(problems) => problems.clone(),
            Self::NotReady(why) => vec![why.clone()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degraded_still_serves_and_not_ready_does_not() {
        assert_eq!(Readiness::from_problems(Vec::new()), Readiness::Ready);
        let degraded = Readiness::from_problems(vec!["redis down".to_owned()]);
        assert_eq!(degraded.status(), "degraded");
        assert!(degraded.serves());
        assert_eq!(degraded.problems(), ["redis down"]);
        let not_ready = Readiness::NotReady("dedup store unreachable".to_owned());
        assert!(!not_ready.serves());
        assert_eq!(not_ready.status(), "not_ready");
    }
}
