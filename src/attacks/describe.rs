//! Attacks named for people: "PGD-10 L-inf on audio + video (eps_a 0.005, eps_v 2/255)", not
//! the enums' debug names and float noise.

use super::{AttackConfig, Method, Modality, Norm};

impl Method {
    pub fn label(self) -> &'static str {
        match self {
            Self::Fgsm => "FGSM",
            Self::Pgd => "PGD",
            Self::Mim => "MIM",
        }
    }
}

impl Norm {
    pub fn label(self) -> &'static str {
        match self {
            Self::Linf => "L-inf",
            Self::L2 => "L2",
        }
    }
}

impl Modality {
    pub fn label(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Both => "audio + video",
        }
    }
}

/// A budget with four significant digits at most and no trailing zeros (0.08, not 0.0799999).
pub fn number(v: f32) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// A picture budget, also as k/255 when it is close to one (how papers give it).
pub fn pixel_budget(v: f32) -> String {
    let k = v * 255.0;
    if k >= 0.5 && (k - k.round()).abs() < 0.01 { format!("{}/255", k.round()) } else { number(v) }
}

impl AttackConfig {
    /// "FGSM L-inf on audio + video", "PGD-10 L2 on audio".
    pub fn name(&self) -> String {
        let method = match self.method {
            Method::Fgsm => "FGSM".to_string(),
            m => format!("{}-{}", m.label(), self.steps),
        };
        format!("{method} {} on {}", self.norm.label(), self.modality.label())
    }

    /// The budgets the attack uses: "eps_a 0.005, eps_v 2/255".
    pub fn budgets(&self) -> String {
        match self.modality {
            Modality::Audio => format!("eps_a {}", number(self.eps_a)),
            Modality::Video => format!("eps_v {}", pixel_budget(self.eps_v)),
            Modality::Both => format!("eps_a {}, eps_v {}", number(self.eps_a), pixel_budget(self.eps_v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(number(0.08f32 - 1e-9), "0.08");
        assert_eq!(number(0.079_999_99), "0.08");
        assert_eq!(number(0.005), "0.005");
        assert_eq!(number(0.000_123_4), "0.0001234");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(16.0), "16");
        assert_eq!(pixel_budget(2.0 / 255.0), "2/255");
        assert_eq!(pixel_budget(0.1), "0.1");
        let cfg = AttackConfig { method: Method::Pgd, steps: 10, norm: Norm::Linf, modality: Modality::Both, eps_a: 0.005, eps_v: 8.0 / 255.0, ..AttackConfig::default() };
        assert_eq!(cfg.name(), "PGD-10 L-inf on audio + video");
        assert_eq!(cfg.budgets(), "eps_a 0.005, eps_v 8/255");
        let fgsm = AttackConfig { method: Method::Fgsm, modality: Modality::Audio, eps_a: 0.079_999_99, ..cfg };
        assert_eq!(format!("{} ({})", fgsm.name(), fgsm.budgets()), "FGSM L-inf on audio (eps_a 0.08)");
    }
}
