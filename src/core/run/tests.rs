//! Unit tests of runs as data: states, triggers, events (pure rules).

use super::*;

#[test]
fn wire_names_round_trip() {
    for s in RunStatus::ALL {
        assert_eq!(RunStatus::parse(s.as_str()), Some(*s));
        let j = serde_json::to_string(s).unwrap();
        assert_eq!(serde_json::from_str::<RunStatus>(&j).unwrap(), *s);
    }
    for o in Outcome::ALL {
        assert_eq!(Outcome::parse(o.as_str()), Some(*o));
    }
    for k in EventKind::ALL {
        assert_eq!(EventKind::parse(k.as_str()), Some(*k));
    }
    for t in Trigger::ALL {
        assert_eq!(Trigger::parse(t.as_str()), Some(*t));
    }
    assert_eq!(RunStatus::TimedOut.to_string(), "timed_out");
    assert!(serde_json::from_str::<RunStatus>("\"nope\"").is_err());
}

#[test]
fn a_row_without_a_trigger_is_read_by_its_other_columns() {
    let of = |forced, job, lock| Trigger::of_row(None, forced, job, lock);
    assert_eq!(of(true, "j", None), Trigger::Forced);
    assert_eq!(of(false, "ask", Some("ask/1-2")), Trigger::Ask);
    assert_eq!(of(false, "ask", None), Trigger::Scheduled);
    assert_eq!(of(false, "j", Some("j@2")), Trigger::Scheduled);
    assert_eq!(
        Trigger::of_row(Some(Trigger::Retry), true, "ask", Some("ask/1")),
        Trigger::Retry,
        "a recorded trigger stands"
    );
}

#[test]
fn only_an_asks_lease_is_its_own() {
    assert!(is_own_lease(Some("ask/12-34")));
    assert!(!is_own_lease(Some("job@2")) && !is_own_lease(None));
    assert!(
        !is_own_lease(Some("asking")),
        "a job may be named ask-something"
    );
}

#[test]
fn failures_and_ends() {
    assert!(!RunStatus::Running.is_end());
    assert!(!RunStatus::Queued.is_end() && !RunStatus::Paused.is_end());
    assert!(RunStatus::Retrying.is_supervised() && !RunStatus::Queued.is_supervised());
    assert!(RunStatus::Cancelled.is_end());
    assert!(RunStatus::Lost.is_failure() && !RunStatus::Cancelled.is_failure());
}
