//! What the readers of many runs rely on (`history`, the API's `GET /runs`, `/metrics`):
//! pages of runs by cursor under each filter, counts by job and status, a run's metadata;
//! and the API's idempotent answers.

use jobctl::core::run::{NewRun, RunStatus, Trigger};
use jobctl::store::{RunCount, RunQuery, StoredAnswer};

use super::{Backend, claimed, end, forced};

fn ids(runs: &[jobctl::core::run::RunRecord]) -> Vec<i64> {
    runs.iter().map(|r| r.id).collect()
}

pub fn pages_of_runs_go_back_by_id_under_their_filters<B: Backend>(b: &B) {
    let mut s = b.open();
    let mut all = Vec::new();
    for i in 0..7 {
        let job = if i % 3 == 0 { "b" } else { "a" };
        let r = claimed(s.claim_run(&forced(job, i)).unwrap());
        let status = if i == 4 {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        s.finish_run(r.id, &end(status, i + 1)).unwrap();
        all.push(r.id);
    }
    // Two sub-runs of the first run, one of them with metadata.
    let parent = all[0];
    let mut kids = Vec::new();
    let ticket = serde_json::json!({"ticket": "OPS-7"}).as_object().cloned();
    for (i, metadata) in [(10, None), (11, ticket)] {
        let r = claimed(
            s.claim_run(&NewRun {
                parent_run_id: Some(parent),
                depth: 1,
                metadata: metadata.clone(),
                trigger: Trigger::Submit,
                ..forced("c", i)
            })
            .unwrap(),
        );
        assert_eq!(r.metadata, metadata, "the metadata as given");
        s.finish_run(r.id, &end(RunStatus::Succeeded, i + 1))
            .unwrap();
        assert_eq!(s.get_run(r.id).unwrap().unwrap().metadata, metadata);
        kids.push(r.id);
    }
    for job in [None, Some("a"), Some("b")] {
        let whole = ids(&s.history(job, 100).unwrap());
        let mut paged = Vec::new();
        let mut before = None;
        loop {
            let page = s
                .find_runs(&RunQuery {
                    job,
                    before,
                    limit: 2,
                    ..Default::default()
                })
                .unwrap();
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            paged.extend(ids(&page));
        }
        assert_eq!(paged, whole, "pages of {job:?}, newest first");
    }
    let q = |status, parent, before| RunQuery {
        job: None,
        status,
        parent,
        before,
        limit: 100,
        ..Default::default()
    };
    let newest = *kids.last().unwrap();
    assert!(
        s.find_runs(&q(None, None, Some(newest)))
            .unwrap()
            .iter()
            .all(|r| r.id < newest),
        "only ids below `before`"
    );
    assert_eq!(
        ids(&s
            .find_runs(&q(Some(RunStatus::Failed), None, None))
            .unwrap()),
        [all[4]]
    );
    let mut below = kids.clone();
    below.reverse();
    assert_eq!(
        ids(&s.find_runs(&q(None, Some(parent), None)).unwrap()),
        below,
        "the sub-runs of the parent, newest first"
    );
    assert!(
        s.find_runs(&q(None, Some(all[1]), None))
            .unwrap()
            .is_empty()
    );
    // Runs started in a window (`history --since/--until`), and those made one way.
    let window = |from, before| RunQuery {
        started_from: from,
        started_before: before,
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        ids(&s.find_runs(&window(Some(2), Some(5))).unwrap()),
        [all[4], all[3], all[2]],
        "from is kept, before is not"
    );
    assert_eq!(ids(&s.find_runs(&window(Some(10), None)).unwrap()), below);
    let submitted = RunQuery {
        trigger: Some(Trigger::Submit),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(ids(&s.find_runs(&submitted).unwrap()), below);
}

pub fn runs_are_counted_by_job_and_status<B: Backend>(b: &B) {
    let mut s = b.open();
    for (i, (job, status)) in [
        ("a", RunStatus::Succeeded),
        ("a", RunStatus::Succeeded),
        ("a", RunStatus::Failed),
        ("b", RunStatus::Succeeded),
    ]
    .into_iter()
    .enumerate()
    {
        let at = i as i64 * 1000;
        let r = claimed(s.claim_run(&forced(job, at)).unwrap());
        s.finish_run(r.id, &end(status, at + 10 + i as i64))
            .unwrap();
    }
    let running = claimed(s.claim_run(&forced("b", 9000)).unwrap());
    let mut counts = s.run_counts().unwrap();
    counts.sort_by(|x, y| (&x.job, x.status.as_str()).cmp(&(&y.job, y.status.as_str())));
    let c = |job: &str, status, count, duration_ms| RunCount {
        job: job.into(),
        status,
        count,
        duration_ms,
    };
    assert_eq!(
        counts,
        [
            c("a", RunStatus::Failed, 1, 12),
            c("a", RunStatus::Succeeded, 2, 10 + 11),
            c("b", RunStatus::Running, 1, 0),
            c("b", RunStatus::Succeeded, 1, 13),
        ]
    );
    assert_eq!(running.status, RunStatus::Running);
}

pub fn the_first_answer_to_a_key_is_kept_for_a_day<B: Backend>(b: &B) {
    let mut s = b.open();
    let day = 86_400_000;
    let answer = |request: &str, status: u16, at: i64| StoredAnswer {
        request: request.into(),
        status,
        location: Some("/api/v1/runs/1".into()),
        body: b"{\"run_id\":1}".to_vec(),
        at,
    };
    assert_eq!(s.answer("k1", 0).unwrap(), None);
    let first = answer("POST /api/v1/runs abc", 202, day);
    s.keep_answer("k1", &first, 0).unwrap();
    // A second answer to the same key (another server racing this one) is not kept.
    s.keep_answer("k1", &answer("POST /api/v1/runs abc", 409, day + 1), 0)
        .unwrap();
    let other = b.open();
    assert_eq!(other.answer("k1", 0).unwrap(), Some(first.clone()));
    // Not one from before `since`; and a day later, the next write forgets it.
    assert_eq!(other.answer("k1", day + 1).unwrap(), None);
    s.keep_answer("k2", &answer("POST /x", 200, 2 * day + 1), day + 1)
        .unwrap();
    assert_eq!(s.answer("k1", 0).unwrap(), None);
    assert_eq!(s.answer("k2", 0).unwrap().unwrap().status, 200);
}
