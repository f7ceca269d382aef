//! Unit tests of the row decoding both backends share.

use super::*;

/// `$t::LIST` names `$t`'s columns in order, and each reads where it stands.
macro_rules! stands {
    ($($t:ident),+) => {$(
        let names: Vec<&str> = $t::ALL.iter().map(|c| c.name()).collect();
        assert_eq!($t::LIST, names.join(", "));
        for (i, c) in $t::ALL.iter().enumerate() {
            assert_eq!(c.at(), i, "{c:?}");
        }
    )+};
}

/// The lists the SELECTs name are the enums' columns, in the enums' order: a cell is
/// found where its column is named.
#[test]
fn each_column_stands_where_the_list_names_it() {
    stands!(
        RunCol, EventCol, HeldCol, HeadCol, JobCol, ScopeCol, UsageCol, LoadCol, CountCol,
        AnswerCol
    );
}
