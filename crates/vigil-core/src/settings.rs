//! What may change in an exam's settings, and when.
//!
//! Before the exam window opens nothing has happened under the settings, so
//! anything valid may replace them. Once it has opened, students may have
//! consented to what is collected and scores have been computed and shown
//! under the scoring rules, so:
//!
//! - the privacy tier may be lowered, never raised (nobody is recorded more
//!   than they agreed to), and likewise the evidence retention shortened,
//!   never lengthened;
//! - the scoring rules stay as they are (every score a proctor has seen was
//!   computed with them; a change would rewrite history);
//! - the opening time stays (students have started under it);
//! - the closing time, the detectors switched off, the stall threshold and
//!   the assessment URL may change: those are what an instructor fixes during
//!   a live exam (extra time for everyone, a misbehaving detector, the wrong
//!   quiz link).

use vigil_proto::{ExamSettings, PrivacyTier, UnixMillis};

/// A change the rules above refuse; `Display` names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsLocked {
    #[error("the exam has opened: its privacy tier may be lowered but not raised")]
    PrivacyRaised,
    #[error("the exam has opened: its evidence retention may be shortened but not lengthened")]
    RetentionLengthened,
    #[error("the exam has opened: its scoring rules can no longer change")]
    ScoringChanged,
    #[error("the exam has opened: its opening time can no longer change")]
    OpeningMoved,
}

/// How much a tier collects, for comparing tiers.
fn intrusiveness(tier: PrivacyTier) -> u8 {
    match tier {
        PrivacyTier::EventsOnly => 0,
        PrivacyTier::FlaggedFrames => 1,
    }
}

/// Whether `after` may replace `before` at `now`. Only the rules about time
/// are here; whether `after` is valid on its own is the caller's check.
pub fn check_change(before: &ExamSettings, after: &ExamSettings, now: UnixMillis) -> Result<(), SettingsLocked> {
    if now < before.window.opens_at {
        return Ok(());
    }
    if intrusiveness(after.privacy) > intrusiveness(before.privacy) {
        return Err(SettingsLocked::PrivacyRaised);
    }
    if after.evidence_retention_days > before.evidence_retention_days {
        return Err(SettingsLocked::RetentionLengthened);
    }
    if after.scoring != before.scoring {
        return Err(SettingsLocked::ScoringChanged);
    }
    if after.window.opens_at != before.window.opens_at {
        return Err(SettingsLocked::OpeningMoved);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use vigil_proto::{ExamWindow, IncidentKind};

    use super::*;

    const OPENS: UnixMillis = 1_800_000_000_000;

    fn settings() -> ExamSettings {
        ExamSettings::with_window(ExamWindow { opens_at: OPENS, closes_at: OPENS + 3_600_000 })
    }

    #[test]
    fn before_opening_anything_may_change() {
        let before = settings();
        let mut after = settings();
        after.privacy = PrivacyTier::FlaggedFrames;
        after.evidence_retention_days = 365;
        after.scoring.alert_at = 20.0;
        after.window.opens_at = OPENS + 60_000;
        assert_eq!(check_change(&before, &after, OPENS - 1), Ok(()));
    }

    #[test]
    fn once_open_what_students_agreed_to_may_only_shrink() {
        let mut before = settings();
        before.privacy = PrivacyTier::EventsOnly;
        let mut raised = before.clone();
        raised.privacy = PrivacyTier::FlaggedFrames;
        assert_eq!(check_change(&before, &raised, OPENS), Err(SettingsLocked::PrivacyRaised));
        assert_eq!(check_change(&raised, &before, OPENS), Ok(()), "lowering is allowed");

        let mut longer = before.clone();
        longer.evidence_retention_days += 1;
        assert_eq!(check_change(&before, &longer, OPENS + 1), Err(SettingsLocked::RetentionLengthened));
        assert_eq!(check_change(&longer, &before, OPENS + 1), Ok(()), "shortening is allowed");
    }

    #[test]
    fn once_open_scoring_and_the_opening_time_are_fixed() {
        let before = settings();
        let mut rescored = settings();
        rescored.scoring.weights.insert(IncidentKind::TabHidden, 9.0);
        assert_eq!(check_change(&before, &rescored, OPENS + 1), Err(SettingsLocked::ScoringChanged));
        let mut moved = settings();
        moved.window.opens_at -= 1;
        assert_eq!(check_change(&before, &moved, OPENS + 1), Err(SettingsLocked::OpeningMoved));
    }

    #[test]
    fn once_open_live_fixes_are_allowed() {
        let before = settings();
        let mut after = settings();
        after.window.closes_at += 15 * 60_000;
        after.disabled_detectors = vec![IncidentKind::LookingAway];
        after.stall_after_s = 30;
        after.assessment_url = Some("https://lms.example.edu/quiz/7".into());
        assert_eq!(check_change(&before, &after, OPENS + 1), Ok(()));
    }
}
