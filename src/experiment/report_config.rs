//! The `report` section of an experiment: what the report shows.

use serde::{Deserialize, Serialize};

use crate::config_error::ConfigError;
use crate::did_you_mean::suggestion;

/// An output channel named in the report settings: its name in the task's `outputs`, or its
/// index (0 first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputChannel {
    /// The channel's position in the task's `outputs`.
    Index(usize),
    /// The channel's name, one of the task's `outputs`.
    Name(String),
}

impl Serialize for OutputChannel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OutputChannel::Index(k) => s.serialize_u64(*k as u64),
            OutputChannel::Name(name) => s.serialize_str(name),
        }
    }
}

impl<'de> Deserialize<'de> for OutputChannel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = OutputChannel;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an output channel's name (e.g. \"choice_1\") or its index (0, 1, …)")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<OutputChannel, E> {
                Ok(OutputChannel::Index(v as usize))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<OutputChannel, E> {
                usize::try_from(v).map(OutputChannel::Index).map_err(|_| {
                    E::custom(format!("an output channel index is 0 or more, got {v}"))
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OutputChannel, E> {
                Ok(OutputChannel::Name(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl From<usize> for OutputChannel {
    fn from(k: usize) -> Self {
        OutputChannel::Index(k)
    }
}

impl From<&str> for OutputChannel {
    fn from(name: &str) -> Self {
        OutputChannel::Name(name.to_string())
    }
}

impl OutputChannel {
    /// The channel's index among `outputs`; the error (for settings field `field`) lists the
    /// valid names and indices.
    pub fn resolve(&self, outputs: &[String], field: &str) -> Result<usize, ConfigError> {
        let listed = || {
            outputs
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{i} = {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            OutputChannel::Index(k) if *k < outputs.len() => Ok(*k),
            OutputChannel::Index(k) => Err(ConfigError::new(
                field,
                format!(
                    "must be an output channel between 0 and {} ({}), got {k}",
                    outputs.len().saturating_sub(1),
                    listed()
                ),
            )),
            OutputChannel::Name(name) => outputs.iter().position(|o| o == name).ok_or_else(|| {
                ConfigError::new(
                    field,
                    format!(
                        "the task has no output `{name}`; its outputs are {}{}",
                        listed(),
                        suggestion(name, outputs.iter().map(String::as_str))
                    ),
                )
            }),
        }
    }
}

/// The default choice channels of a task: every output except one named `fixation` (any case).
pub fn default_choice_channels(outputs: &[String]) -> Vec<usize> {
    (0..outputs.len())
        .filter(|&k| !outputs[k].eq_ignore_ascii_case("fixation"))
        .collect()
}

/// The most example trials or single units a report draws.
pub const MAX_FIGURE_ITEMS: usize = 64;

/// Report settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Write the report at the end of `psychrnn run`.
    pub enabled: bool,
    /// The condition that groups and colours trials (population and unit figures); `null`:
    /// the first condition with 2–8 distinct values.
    pub condition: Option<String>,
    /// The condition on the psychometric curve's x axis (e.g. `coherence`); `null`: no curve.
    pub psychometric: Option<String>,
    /// A condition whose value 0 makes the psychometric x negative (e.g. `direction`).
    pub psychometric_sign: Option<String>,
    /// The output channel whose choice the psychometric curve counts, by name or index;
    /// `null`: the second choice channel (the only one when there is one).
    pub choice_channel: Option<OutputChannel>,
    /// The output channels a choice is made among and whose crossing of
    /// `reaction_time_threshold` is a response, by name or index; `null`: every output except
    /// one named `fixation`.
    pub choice_channels: Option<Vec<OutputChannel>>,
    /// The condition holding each trial's response onset in ms (e.g. stimulus onset in a
    /// reaction-time task); set, it adds a chronometric curve.
    pub reaction_time_onset: Option<String>,
    /// The output level that counts as a response for reaction times.
    pub reaction_time_threshold: f64,
    /// Example trials drawn.
    pub example_trials: usize,
    /// Single units drawn.
    pub units: usize,
    /// Targeted dimensionality reduction (Mante et al. 2013): the conditions that are choice,
    /// motion, colour and context; `null`: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tdr: Option<crate::experiment::TdrSettings>,
    /// Task variance and unit clusters over the tasks a condition names (multitask runs).
    pub task_variance: Option<super::TaskVarianceConfig>,
    /// P(choice) over the grid of two conditions (e.g. Romo's f1 × f2).
    pub psychometric_matrix: Option<super::PsychometricMatrixConfig>,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            enabled: true,
            condition: None,
            psychometric: None,
            psychometric_sign: None,
            choice_channel: None,
            choice_channels: None,
            reaction_time_onset: None,
            reaction_time_threshold: 0.5,
            example_trials: 4,
            units: 6,
            tdr: None,
            task_variance: None,
            psychometric_matrix: None,
        }
    }
}

impl ReportConfig {
    /// Checks the counts and the output channels against the task's `outputs` (condition names
    /// are checked against drawn trials by [`crate::validation::validate`]).
    pub fn validate(&self, outputs: &[String]) -> Result<(), ConfigError> {
        for (field, v) in [
            ("example_trials", self.example_trials),
            ("units", self.units),
        ] {
            if !(1..=MAX_FIGURE_ITEMS).contains(&v) {
                return Err(ConfigError::new(
                    format!("report.{field}"),
                    format!("must be between 1 and {MAX_FIGURE_ITEMS}, got {v}"),
                ));
            }
        }
        if !self.reaction_time_threshold.is_finite() {
            return Err(ConfigError::new(
                "report.reaction_time_threshold",
                format!("must be a number, got {}", self.reaction_time_threshold),
            ));
        }
        self.choices(outputs)?;
        if let Some(tv) = &self.task_variance {
            tv.validate()?;
        }
        if let Some(m) = &self.psychometric_matrix {
            m.validate(outputs)?;
        }
        Ok(())
    }
}

/// The report's choice channels of a task, resolved to indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choices {
    /// The channels a choice is made among (and whose threshold crossing is a response).
    pub among: Vec<usize>,
    /// The channel the psychometric curve counts.
    pub counted: usize,
}

impl ReportConfig {
    /// `choice_channels` and `choice_channel` as indices into the task's `outputs`, with their
    /// defaults applied; errors name the field and list the outputs.
    pub fn choices(&self, outputs: &[String]) -> Result<Choices, ConfigError> {
        let among = match &self.choice_channels {
            None => default_choice_channels(outputs),
            Some(listed) => {
                if listed.is_empty() {
                    return Err(ConfigError::new(
                        "report.choice_channels",
                        "is empty; list the output channels a choice is made among, or null for every output except `fixation`",
                    ));
                }
                let mut among = Vec::with_capacity(listed.len());
                for (i, c) in listed.iter().enumerate() {
                    let k = c.resolve(outputs, &format!("report.choice_channels[{i}]"))?;
                    if among.contains(&k) {
                        return Err(ConfigError::new(
                            "report.choice_channels",
                            format!("lists channel {k} ({}) twice", outputs[k]),
                        ));
                    }
                    among.push(k);
                }
                among
            }
        };
        let counted = match &self.choice_channel {
            Some(c) => c.resolve(outputs, "report.choice_channel")?,
            // Empty only for a task whose one output is `fixation`; checked below when used.
            None => among.get(1).or(among.first()).copied().unwrap_or(0),
        };
        let curve_or_rt = self.psychometric.is_some() || self.reaction_time_onset.is_some();
        if among.is_empty() && curve_or_rt {
            return Err(ConfigError::new(
                "report.choice_channels",
                "the task's only output is `fixation`, so no choice can be read; list the channels to use",
            ));
        }
        // The counted channel matters only for the psychometric curve (the default does not
        // exist in one-output tasks that draw none).
        if self.psychometric.is_some() && !among.contains(&counted) {
            let names: Vec<String> = among
                .iter()
                .map(|&k| format!("{k} = {}", outputs[k]))
                .collect();
            return Err(ConfigError::new(
                "report.choice_channel",
                format!(
                    "is {counted} ({}), which is not among report.choice_channels ({}): the curve would count a choice that is never made",
                    outputs[counted],
                    names.join(", ")
                ),
            ));
        }
        Ok(Choices { among, counted })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn report(psychometric: bool) -> ReportConfig {
        ReportConfig {
            psychometric: psychometric.then(|| "coherence".to_string()),
            ..ReportConfig::default()
        }
    }

    #[test]
    fn defaults_leave_the_fixation_output_out() {
        let with_fixation = outputs(&["fixation", "choice_0", "choice_1"]);
        assert_eq!(
            report(true).choices(&with_fixation).unwrap(),
            Choices {
                among: vec![1, 2],
                counted: 2
            }
        );
        // Any case; two outputs without fixation count channel 1 as before.
        assert_eq!(
            report(true)
                .choices(&outputs(&["Fixation", "left", "right"]))
                .unwrap()
                .among,
            [1, 2]
        );
        assert_eq!(
            report(true)
                .choices(&outputs(&["choice_0", "choice_1"]))
                .unwrap(),
            Choices {
                among: vec![0, 1],
                counted: 1
            }
        );
        assert_eq!(
            report(true)
                .choices(&outputs(&["fixation", "response"]))
                .unwrap(),
            Choices {
                among: vec![1],
                counted: 1
            }
        );
    }

    #[test]
    fn channels_by_name_or_index_are_resolved_and_checked() {
        let names = outputs(&["fixation", "choice_0", "choice_1"]);
        let r = ReportConfig {
            choice_channel: Some("choice_0".into()),
            choice_channels: Some(vec!["choice_0".into(), 2.into()]),
            ..report(true)
        };
        assert_eq!(
            r.choices(&names).unwrap(),
            Choices {
                among: vec![1, 2],
                counted: 1
            }
        );
        let typo = ReportConfig {
            choice_channel: Some("choise_1".into()),
            ..report(true)
        };
        assert_eq!(
            typo.choices(&names).unwrap_err().to_string(),
            "config field `report.choice_channel`: the task has no output `choise_1`; its outputs are 0 = fixation, 1 = choice_0, 2 = choice_1; did you mean `choice_1`?"
        );
        let twice = ReportConfig {
            choice_channels: Some(vec!["choice_1".into(), 2.into()]),
            ..report(true)
        };
        assert_eq!(
            twice.choices(&names).unwrap_err().to_string(),
            "config field `report.choice_channels`: lists channel 2 (choice_1) twice"
        );
        let fixation = ReportConfig {
            choice_channel: Some("fixation".into()),
            ..report(true)
        };
        assert_eq!(
            fixation.choices(&names).unwrap_err().to_string(),
            "config field `report.choice_channel`: is 0 (fixation), which is not among report.choice_channels (1 = choice_0, 2 = choice_1): the curve would count a choice that is never made"
        );
        let beyond = ReportConfig {
            choice_channels: Some(vec![1.into(), 5.into()]),
            ..report(true)
        };
        assert_eq!(
            beyond.choices(&names).unwrap_err().to_string(),
            "config field `report.choice_channels[1]`: must be an output channel between 0 and 2 (0 = fixation, 1 = choice_0, 2 = choice_1), got 5"
        );
    }

    #[test]
    fn channels_read_from_yaml_as_names_or_indices() {
        let r: ReportConfig =
            serde_norway::from_str("choice_channel: choice_1\nchoice_channels: [1, choice_1]\n")
                .unwrap();
        assert_eq!(
            r.choice_channel,
            Some(OutputChannel::Name("choice_1".into()))
        );
        assert_eq!(
            r.choice_channels,
            Some(vec![
                OutputChannel::Index(1),
                OutputChannel::Name("choice_1".into())
            ])
        );
        let back: ReportConfig =
            serde_norway::from_str(&serde_norway::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let negative = serde_norway::from_str::<ReportConfig>("choice_channel: -1\n").unwrap_err();
        assert!(
            negative
                .to_string()
                .contains("an output channel index is 0 or more, got -1"),
            "{negative}"
        );
    }
}
