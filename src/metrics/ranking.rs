//! Ranking metrics over class scores (Li et al.'s table): macro one-vs-rest ROC AUC, mean
//! average precision and d-prime = sqrt(2) * inverse-normal-CDF(AUC).

/// ROC AUC of `scores` for the positives marked in `positive` (ties count one half); None when
/// there are no positives or no negatives.
pub fn auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let pos: Vec<f32> = scores.iter().zip(positive).filter(|(_, p)| **p).map(|(s, _)| *s).collect();
    let neg: Vec<f32> = scores.iter().zip(positive).filter(|(_, p)| !**p).map(|(s, _)| *s).collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n { 1.0 } else if p == n { 0.5 } else { 0.0 };
        }
    }
    Some(wins / (pos.len() * neg.len()) as f64)
}

/// Average precision: the mean of the precision at the rank of each positive (ties broken
/// against the positive); None when there are no positives.
pub fn average_precision(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let total = positive.iter().filter(|p| **p).count();
    if total == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(positive[a].cmp(&positive[b])));
    let (mut hits, mut sum) = (0usize, 0.0);
    for (rank, &i) in order.iter().enumerate() {
        if positive[i] {
            hits += 1;
            sum += hits as f64 / (rank + 1) as f64;
        }
    }
    Some(sum / total as f64)
}

/// Macro averages over classes of (AUC, AP) for `probs[clip][class]` and true `labels`;
/// classes without positives (or negatives, for AUC) are left out.
pub fn macro_auc_map(probs: &[Vec<f32>], labels: &[usize]) -> (Option<f64>, Option<f64>) {
    let classes = probs.first().map_or(0, Vec::len);
    let (mut aucs, mut aps) = (Vec::new(), Vec::new());
    for c in 0..classes {
        let scores: Vec<f32> = probs.iter().map(|p| p[c]).collect();
        let positive: Vec<bool> = labels.iter().map(|&l| l == c).collect();
        aucs.extend(auc(&scores, &positive));
        aps.extend(average_precision(&scores, &positive));
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    (mean(&aucs), mean(&aps))
}

/// d' = sqrt(2) * Phi^-1(AUC).
pub fn d_prime(auc: f64) -> f64 {
    std::f64::consts::SQRT_2 * inverse_normal_cdf(auc.clamp(1e-12, 1.0 - 1e-12))
}

/// Inverse of the standard normal CDF (Acklam's rational approximation, relative error below
/// 1.2e-9).
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.383577518672690e2, -3.066479806614716e1, 2.506628277459239];
    const B: [f64; 5] = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let tail = |q: f64| (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0);
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_ap_and_d_prime_on_hand_cases() {
        let pos = [true, true, false, false];
        assert_eq!(auc(&[0.9, 0.8, 0.3, 0.1], &pos), Some(1.0));
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &pos), Some(0.0));
        assert_eq!(auc(&[0.5, 0.5, 0.5, 0.5], &pos), Some(0.5));
        assert_eq!(auc(&[0.5, 0.5], &[true, true]), None);
        // Ranks of the positives: 1 and 3 -> (1/1 + 2/3) / 2.
        let ap = average_precision(&[0.9, 0.7, 0.8, 0.1], &pos).unwrap();
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12, "{ap}");
        assert!((inverse_normal_cdf(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((inverse_normal_cdf(0.001) + 3.090_232_306).abs() < 1e-8);
        assert!(d_prime(0.5).abs() < 1e-12);
        assert!((d_prime(0.76025) - std::f64::consts::SQRT_2 * 0.7071).abs() < 1e-3);
        let (a, m) = macro_auc_map(&[vec![0.9, 0.1], vec![0.2, 0.8], vec![0.6, 0.4]], &[0, 1, 0]);
        assert_eq!((a, m), (Some(1.0), Some(1.0)));
    }
}
