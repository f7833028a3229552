//! Bag-of-words F1, the measure the text-extraction tests compare readers with.

use std::collections::HashMap;

/// Lowercase words: maximal runs of letters and digits.
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Bag-of-words F1 of `ours` against `reference` (0 when they share no word).
pub fn f1(ours: &str, reference: &str) -> f64 {
    let count = |text: &str| {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for w in words(text) {
            *counts.entry(w).or_default() += 1;
        }
        counts
    };
    let (a, b) = (count(ours), count(reference));
    let common: usize = a
        .iter()
        .map(|(w, n)| (*n).min(b.get(w).copied().unwrap_or(0)))
        .sum();
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / a.values().sum::<usize>() as f64;
    let recall = common as f64 / b.values().sum::<usize>() as f64;
    2.0 * precision * recall / (precision + recall)
}
