//! The IdP's metrics, in the Prometheus text exposition format (version 0.0.4):
//! counter and histogram families with a fixed set of label names, updated from
//! request paths under a shared read lock with no allocation once a label set
//! has been seen (series are few: route templates, error codes, receivers), and
//! rendered on scrape. Gauges are read at scrape time by the caller and written
//! with [`gauge`]. Label values are escaped as the format requires; a family's
//! label set is closed by its callers (route templates, error codes, receiver
//! ids), never raw request input.

use std::{
    fmt::Write,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

/// Series by label values: found under the read lock without allocating; a new
/// label set is added under the write lock, and rendering sorts.
struct Series<const N: usize, T> {
    items: RwLock<Vec<([String; N], Arc<T>)>>,
}

impl<const N: usize, T> Series<N, T> {
    const fn new() -> Self {
        Self {
            items: RwLock::new(Vec::new()),
        }
    }

    fn find(&self, values: &[&str; N]) -> Option<Arc<T>> {
        let items = self.items.read().expect("series");
        items
            .iter()
            .find(|(k, _)| k.iter().zip(values).all(|(a, b)| a == b))
            .map(|(_, v)| v.clone())
    }

    fn get_or_add(&self, values: [&str; N], make: impl FnOnce() -> T) -> Arc<T> {
        if let Some(v) = self.find(&values) {
            return v;
        }
        let mut items = self.items.write().expect("series");
        if let Some((_, v)) = items
            .iter()
            .find(|(k, _)| k.iter().zip(&values).all(|(a, b)| a == b))
        {
            return v.clone();
        }
        let v = Arc::new(make());
        items.push((values.map(str::to_owned), v.clone()));
        v
    }

    fn sorted(&self) -> Vec<([String; N], Arc<T>)> {
        let mut all = self.items.read().expect("series").clone();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

/// Latency buckets in seconds: 0.5 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A counter family: one monotonic count per label-value combination.
pub struct CounterVec<const N: usize> {
    name: &'static str,
    help: &'static str,
    labels: [&'static str; N],
    values: Series<N, AtomicU64>,
}

impl<const N: usize> CounterVec<N> {
    pub const fn new(name: &'static str, help: &'static str, labels: [&'static str; N]) -> Self {
        Self {
            name,
            help,
            labels,
            values: Series::new(),
        }
    }

    pub fn inc(&self, values: [&str; N]) {
        self.values
            .get_or_add(values, || AtomicU64::new(0))
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The count for `values` (0 when never incremented).
    pub fn get(&self, values: [&str; N]) -> u64 {
        self.values
            .find(&values)
            .map_or(0, |n| n.load(Ordering::Relaxed))
    }

    pub fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "counter");
        for (values, n) in self.values.sorted() {
            let n = n.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{}{} {n}",
                self.name,
                labels(&self.labels, &values, None)
            );
        }
    }
}

/// One histogram: cumulative bucket counts, the sum and the count.
struct Histogram {
    buckets: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

/// A histogram family of durations in seconds, one series per label values.
pub struct HistogramVec<const N: usize> {
    name: &'static str,
    help: &'static str,
    labels: [&'static str; N],
    bounds: &'static [f64],
    series: Series<N, Histogram>,
}

impl<const N: usize> HistogramVec<N> {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: [&'static str; N],
        bounds: &'static [f64],
    ) -> Self {
        Self {
            name,
            help,
            labels,
            bounds,
            series: Series::new(),
        }
    }

    pub fn observe(&self, values: [&str; N], seconds: f64) {
        let s = self.series.get_or_add(values, || Histogram {
            buckets: self.bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        });
        for (b, bound) in s.buckets.iter().zip(self.bounds) {
            if seconds <= *bound {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        let micros = (seconds.max(0.0) * 1e6) as u64;
        s.sum_micros.fetch_add(micros, Ordering::Relaxed);
        s.count.fetch_add(1, Ordering::Relaxed);
    }

    /// How many observations `values` has.
    pub fn count(&self, values: [&str; N]) -> u64 {
        self.series
            .find(&values)
            .map_or(0, |s| s.count.load(Ordering::Relaxed))
    }

    pub fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "histogram");
        for (values, s) in self.series.sorted() {
            let values = &values;
            let count = s.count.load(Ordering::Relaxed);
            for (b, bound) in s.buckets.iter().zip(self.bounds) {
                let le = format_float(*bound);
                let _ = writeln!(
                    out,
                    "{}_bucket{} {}",
                    self.name,
                    labels(&self.labels, values, Some(&le)),
                    b.load(Ordering::Relaxed)
                );
            }
            let l = labels(&self.labels, values, Some("+Inf"));
            let _ = writeln!(out, "{}_bucket{l} {count}", self.name);
            let l = labels(&self.labels, values, None);
            let sum = s.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "{}_sum{l} {}", self.name, format_float(sum));
            let _ = writeln!(out, "{}_count{l} {count}", self.name);
        }
    }
}

/// A gauge family read at scrape time: `(label values, value)` per series.
pub fn gauge<const N: usize>(
    out: &mut String,
    name: &str,
    help: &str,
    label_names: [&str; N],
    series: &[([String; N], f64)],
) {
    header(out, name, help, "gauge");
    for (values, v) in series {
        let _ = writeln!(
            out,
            "{name}{} {}",
            labels(&label_names, values, None),
            format_float(*v)
        );
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(
        out,
        "# HELP {name} {}",
        help.replace('\\', "\\\\").replace('\n', "\\n")
    );
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn labels<const N: usize>(names: &[&str; N], values: &[String; N], le: Option<&str>) -> String {
    let mut parts: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_histograms_and_gauges_render_in_the_text_format() {
        let c = CounterVec::new("x_total", "Things.", ["outcome", "error"]);
        c.inc(["refused", "invalid_grant"]);
        c.inc(["refused", "invalid_grant"]);
        c.inc(["success", ""]);
        let h = HistogramVec::new("d_seconds", "Time.", ["endpoint"], &[0.01, 0.1]);
        h.observe(["/token"], 0.005);
        h.observe(["/token"], 0.05);
        h.observe(["/token"], 3.0);
        let mut out = String::new();
        c.render(&mut out);
        h.render(&mut out);
        gauge(
            &mut out,
            "g",
            "A \"gauge\".",
            ["r"],
            &[(["a\"b".into()], 2.0)],
        );
        let expected = "\
# HELP x_total Things.
# TYPE x_total counter
x_total{outcome=\"refused\",error=\"invalid_grant\"} 2
x_total{outcome=\"success\",error=\"\"} 1
# HELP d_seconds Time.
# TYPE d_seconds histogram
d_seconds_bucket{endpoint=\"/token\",le=\"0.01\"} 1
d_seconds_bucket{endpoint=\"/token\",le=\"0.1\"} 2
d_seconds_bucket{endpoint=\"/token\",le=\"+Inf\"} 3
d_seconds_sum{endpoint=\"/token\"} 3.055
d_seconds_count{endpoint=\"/token\"} 3
# HELP g A \"gauge\".
# TYPE g gauge
g{r=\"a\\\"b\"} 2.0
";
        assert_eq!(out, expected);
        assert_eq!(c.get(["refused", "invalid_grant"]), 2);
        assert_eq!(h.count(["/token"]), 3);
    }
}
