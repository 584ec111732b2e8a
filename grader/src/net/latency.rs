//! Latency between servers (`--latency`, `--latency-dist`); messages to or from a client take
//! no time, as in Maelstrom.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use serde::Serialize;

/// How one-way latency between servers is drawn (`--latency-dist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyDistribution {
    /// Exactly the mean.
    Constant,
    /// An integer number of ms, uniform on `[0, 2·mean)`.
    Uniform,
    /// Exponential with the given mean, truncated to whole ms.
    Exponential,
}

impl FromStr for LatencyDistribution {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "constant" => Ok(Self::Constant),
            "uniform" => Ok(Self::Uniform),
            "exponential" => Ok(Self::Exponential),
            other => Err(format!(
                "unknown latency distribution `{other}`; choose constant, uniform or exponential"
            )),
        }
    }
}

impl fmt::Display for LatencyDistribution {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Constant => "constant",
            Self::Uniform => "uniform",
            Self::Exponential => "exponential",
        })
    }
}

/// Latency between servers; messages to or from a client always take no time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// The mean one-way delay in ms.
    pub mean_ms: f64,
    /// How delays are drawn around the mean.
    pub distribution: LatencyDistribution,
}

impl Latency {
    /// No latency at all.
    pub const ZERO: Latency = Latency {
        mean_ms: 0.0,
        distribution: LatencyDistribution::Constant,
    };

    /// Draws one delay.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Duration {
        if self.mean_ms <= 0.0 {
            return Duration::ZERO;
        }
        let ms = match self.distribution {
            LatencyDistribution::Constant => self.mean_ms,
            LatencyDistribution::Uniform => {
                rng.random_range(0..(2.0 * self.mean_ms).ceil().max(1.0) as u64) as f64
            }
            LatencyDistribution::Exponential => {
                let uniform: f64 = rng.random_range(f64::EPSILON..1.0);
                (-self.mean_ms * uniform.ln()).floor()
            }
        };
        Duration::from_secs_f64(ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn latency_distributions_have_the_right_means_and_ranges() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let draws = |latency: Latency, rng: &mut ChaCha8Rng| -> Vec<f64> {
            (0..20_000)
                .map(|_| latency.sample(rng).as_secs_f64() * 1000.0)
                .collect()
        };
        let constant = draws(
            Latency {
                mean_ms: 100.0,
                distribution: LatencyDistribution::Constant,
            },
            &mut rng,
        );
        assert!(constant.iter().all(|ms| (*ms - 100.0).abs() < 1e-9));
        let uniform = draws(
            Latency {
                mean_ms: 100.0,
                distribution: LatencyDistribution::Uniform,
            },
            &mut rng,
        );
        assert!(
            uniform
                .iter()
                .all(|ms| *ms >= 0.0 && *ms < 200.0 && ms.fract() == 0.0)
        );
        let mean = uniform.iter().sum::<f64>() / uniform.len() as f64;
        assert!((mean - 99.5).abs() < 2.0, "uniform mean {mean}");
        let exponential = draws(
            Latency {
                mean_ms: 100.0,
                distribution: LatencyDistribution::Exponential,
            },
            &mut rng,
        );
        let mean = exponential.iter().sum::<f64>() / exponential.len() as f64;
        // Truncating to whole ms lowers the mean by about half a millisecond.
        assert!((mean - 99.5).abs() < 3.0, "exponential mean {mean}");
    }
}
