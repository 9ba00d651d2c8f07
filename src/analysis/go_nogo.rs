//! Go/no-go signal detection: hit rate, false-alarm rate and d′ from which trials were go
//! trials and which responded.

use crate::task::d_prime;

/// Counts of go/no-go outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalDetection {
    /// Go trials.
    pub go_trials: usize,
    /// No-go trials.
    pub nogo_trials: usize,
    /// Go trials with a response.
    pub hits: usize,
    /// No-go trials with a response.
    pub false_alarms: usize,
}

impl SignalDetection {
    /// Counts from one (go trial?, responded?) pair per trial.
    pub fn count(is_go: &[bool], responded: &[bool]) -> Self {
        let mut s = SignalDetection {
            go_trials: 0,
            nogo_trials: 0,
            hits: 0,
            false_alarms: 0,
        };
        for (&go, &r) in is_go.iter().zip(responded) {
            if go {
                s.go_trials += 1;
                s.hits += usize::from(r);
            } else {
                s.nogo_trials += 1;
                s.false_alarms += usize::from(r);
            }
        }
        s
    }

    /// hits / go trials; `None` without go trials.
    pub fn hit_rate(&self) -> Option<f64> {
        (self.go_trials > 0).then(|| self.hits as f64 / self.go_trials as f64)
    }

    /// false alarms / no-go trials; `None` without no-go trials.
    pub fn false_alarm_rate(&self) -> Option<f64> {
        (self.nogo_trials > 0).then(|| self.false_alarms as f64 / self.nogo_trials as f64)
    }

    /// d′ with the log-linear correction, as the go/no-go scorer reports it
    /// ([`crate::task::d_prime`]).
    pub fn d_prime(&self) -> f64 {
        d_prime(
            self.hits,
            self.go_trials,
            self.false_alarms,
            self.nogo_trials,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rates_and_d_prime_match_a_hand_computation() {
        // go: responded, responded, missed; no-go: false alarm, withheld, withheld, withheld.
        let go = [true, true, true, false, false, false, false];
        let r = [true, true, false, true, false, false, false];
        let s = SignalDetection::count(&go, &r);
        assert_eq!(
            (s.go_trials, s.hits, s.nogo_trials, s.false_alarms),
            (3, 2, 4, 1)
        );
        assert_eq!(s.hit_rate(), Some(2.0 / 3.0));
        assert_eq!(s.false_alarm_rate(), Some(0.25));
        // Φ⁻¹(2.5/4) − Φ⁻¹(1.5/5) = 0.318639… − (−0.524401…) (scipy.stats.norm.ppf).
        assert!((s.d_prime() - (0.318_639_363_964_375 + 0.524_400_512_708_041)).abs() < 1e-6);
        let none = SignalDetection::count(&[false], &[false]);
        assert_eq!(none.hit_rate(), None);
    }
}
