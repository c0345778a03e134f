//! The time axis of the HTML report: run time to x, piecewise linear, so that every section
//! keeps a minimum width (a 2 ms section of a 3 minute run can still be seen and clicked) while
//! the rest of the axis stays proportional to time. Tick labels carry real times.

use crate::report::terminal::human_ms;

/// One stretch of the axis: a section's time, or the time between sections.
#[derive(Clone, Debug, PartialEq)]
struct Segment {
    t0: u64,
    t1: u64,
    x0: f64,
    x1: f64,
    section: Option<usize>,
}

/// Maps run time (ms) to x.
#[derive(Clone, Debug)]
pub struct Scale {
    segments: Vec<Segment>,
    x0: f64,
    x1: f64,
}

/// A tick of the axis: where, and the time it marks.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub x: f64,
    pub label: String,
}

impl Scale {
    /// `sections` are `(start, duration)` in report order; `end` is the run's end. Sections get
    /// at least `min_width` each, the time between them its proportional share.
    pub fn new(sections: &[(u64, u64)], end: u64, x0: f64, width: f64, min_width: f64) -> Scale {
        let mut order: Vec<usize> = (0..sections.len()).collect();
        order.sort_by_key(|&i| sections[i].0);
        // Stretches in time order: gaps (section None) and sections; overlaps are clipped.
        let mut stretches: Vec<(u64, u64, Option<usize>)> = Vec::new();
        let mut cursor = 0u64;
        for i in order {
            let (start, duration) = sections[i];
            let start = start.max(cursor);
            if start > cursor {
                stretches.push((cursor, start, None));
            }
            let stop = start + duration;
            stretches.push((start, stop, Some(i)));
            cursor = stop;
        }
        if end > cursor {
            stretches.push((cursor, end, None));
        }
        let count = sections.len() as f64;
        let min_width = if count * min_width > width * 0.8 && count > 0.0 {
            width * 0.8 / count
        } else {
            min_width
        };
        let width_of = |k: f64, (t0, t1, section): (u64, u64, Option<usize>)| {
            let w = k * (t1 - t0) as f64;
            match section {
                Some(_) => w.max(min_width),
                None => w,
            }
        };
        let total = |k: f64| stretches.iter().map(|s| width_of(k, *s)).sum::<f64>();
        let time: u64 = stretches.iter().map(|s| s.1 - s.0).sum();
        let (mut lo, mut hi) = (0.0, if time > 0 { width / time as f64 } else { 0.0 });
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if total(mid) > width {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        let k = lo;
        // Whatever is left (nothing took time) is shared out evenly.
        let spare = (width - total(k)).max(0.0) / stretches.len().max(1) as f64;
        let mut x = x0;
        let segments = stretches
            .into_iter()
            .map(|s| {
                let w = width_of(k, s) + spare;
                let seg = Segment {
                    t0: s.0,
                    t1: s.1,
                    x0: x,
                    x1: x + w,
                    section: s.2,
                };
                x += w;
                seg
            })
            .collect();
        Scale {
            segments,
            x0,
            x1: x0 + width,
        }
    }

    /// Where section `i` starts and ends.
    pub fn section(&self, i: usize) -> (f64, f64) {
        self.segments
            .iter()
            .find(|s| s.section == Some(i))
            .map_or((self.x0, self.x0), |s| (s.x0, s.x1))
    }

    /// Where time `t` is, inside section `i` when given (clamped to it), else on the run's axis.
    pub fn x(&self, section: Option<usize>, t: u64) -> f64 {
        let seg = match section {
            Some(i) => self.segments.iter().find(|s| s.section == Some(i)),
            None => self
                .segments
                .iter()
                .find(|s| s.t0 <= t && t < s.t1)
                .or_else(|| self.segments.iter().rev().find(|s| s.t0 <= t)),
        };
        let Some(seg) = seg else {
            return self.x0;
        };
        if seg.t1 <= seg.t0 {
            return (seg.x0 + seg.x1) / 2.0;
        }
        let t = t.clamp(seg.t0, seg.t1);
        seg.x0 + (seg.x1 - seg.x0) * (t - seg.t0) as f64 / (seg.t1 - seg.t0) as f64
    }

    /// Ticks at round times, labels at least `spacing` apart.
    pub fn ticks(&self, end: u64, spacing: f64) -> Vec<Tick> {
        let step = nice_step(end / 8);
        let mut ticks = Vec::new();
        let mut last = f64::NEG_INFINITY;
        let mut t = 0;
        while t <= end {
            let x = self.x(None, t);
            if x - last >= spacing && x <= self.x1 {
                ticks.push(Tick {
                    x,
                    label: if t == 0 { "0".into() } else { human_ms(t) },
                });
                last = x;
            }
            t += step;
        }
        ticks
    }
}

/// 1, 2 or 5 times a power of ten (ms), at least `ms`.
fn nice_step(ms: u64) -> u64 {
    let mut base = 1u64;
    loop {
        for m in [1, 2, 5] {
            if base * m >= ms.max(1) {
                return base * m;
            }
        }
        base *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keep_a_minimum_width_and_the_rest_is_proportional() {
        // 0..10 set-up, a: 10..910, b: 910..911 (1 ms), c: skipped at 911, gap to 1000.
        let s = Scale::new(&[(10, 900), (910, 1), (911, 0)], 1000, 100.0, 1000.0, 20.0);
        let (a0, a1) = s.section(0);
        let (b0, b1) = s.section(1);
        let (c0, c1) = s.section(2);
        assert!((b1 - b0 - 20.0).abs() < 0.01, "{b0} {b1}");
        assert!((c1 - c0 - 20.0).abs() < 0.01, "{c0} {c1}");
        assert!(a1 - a0 > 800.0, "{a0} {a1}");
        assert!(a0 > 100.0 && a1 <= b0 && b1 <= c0);
        assert!((s.x(None, 1000) - 1100.0).abs() < 0.01);
        assert!((s.x(None, 0) - 100.0).abs() < 0.01);
        // Inside a section, time is linear.
        let mid = s.x(Some(0), 460);
        assert!((mid - (a0 + a1) / 2.0).abs() < 0.01);
    }

    #[test]
    fn a_run_that_took_no_time_shares_the_axis() {
        let s = Scale::new(&[(0, 0), (0, 0)], 0, 0.0, 100.0, 10.0);
        assert_eq!(s.section(0), (0.0, 50.0));
        assert_eq!(s.section(1), (50.0, 100.0));
    }

    #[test]
    fn ticks_are_round_and_apart() {
        let s = Scale::new(&[(0, 700)], 700, 0.0, 700.0, 10.0);
        let labels: Vec<String> = s.ticks(700, 40.0).into_iter().map(|t| t.label).collect();
        assert_eq!(labels[..3], ["0", "100ms", "200ms"]);
        assert_eq!(nice_step(0), 1);
        assert_eq!(nice_step(130), 200);
        assert_eq!(nice_step(4000), 5000);
    }
}
