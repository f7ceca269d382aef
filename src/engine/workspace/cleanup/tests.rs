//! Unit tests of which kept worktrees the cleanup removes (a pure rule).

use super::*;

fn k(run_id: i64, since: i64, bytes: u64) -> Kept {
    Kept {
        run_id,
        since,
        bytes,
    }
}

#[test]
fn age_first_then_the_oldest_until_the_rest_fit() {
    let day = 86_400_000;
    let now = 10 * day;
    let kept = [
        k(3, 9 * day, 40),
        k(1, day, 10),
        k(2, 8 * day, 50),
        k(4, 9 * day + 1, 30),
    ];
    let week = Duration::from_secs(7 * 86_400);
    // Run 1 is past the week; of the rest (120 bytes), 2 then 3 go to fit in 40.
    assert_eq!(
        choose(&kept, now, week, Some(40)),
        [(1, Why::Age), (2, Why::Size), (3, Why::Size)]
    );
    assert_eq!(choose(&kept, now, week, None), [(1, Why::Age)]);
    assert_eq!(choose(&kept, now, week, Some(1_000)), [(1, Why::Age)]);
    assert_eq!(
        choose(&kept, now, Duration::ZERO, None).len(),
        4,
        "--older-than 0: all of them"
    );
}
