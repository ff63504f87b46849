//! The machine's f32 peak, for the benchmark's GFLOP/s column: cores x SIMD lanes x 2 FMA
//! units x 2 FLOPs per FMA x clock. Lanes: the widest vectors the CPU has, 16 with AVX-512 (two
//! full-width FMA units, as on AMD Zen 5 and Intel's server cores; Zen 4 runs them at half rate,
//! so there the figure is twice what the core can do), 8 with AVX2+FMA, 4 with SSE, 1 else.
//! Clock: `cpu MHz` of /proc/cpuinfo (the nominal clock in a VM; boost clocks are not counted).

pub struct Peak {
    pub cores: usize,
    pub lanes: usize,
    pub ghz: f64,
    pub simd: &'static str,
}

impl Peak {
    pub fn gflops(&self) -> f64 {
        self.cores as f64 * self.lanes as f64 * 2.0 * 2.0 * self.ghz
    }

    pub fn describe(&self) -> String {
        format!(
            "{} cores x {} f32 lanes ({}) x 2 FMA units x 2 FLOP x {:.2} GHz = {:.0} GFLOP/s",
            self.cores,
            self.lanes,
            self.simd,
            self.ghz,
            self.gflops()
        )
    }
}

/// This machine's peak as far as it can be read (None where the clock is not published).
pub fn peak(threads: usize) -> Option<Peak> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let field = |name: &str| info.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_string());
    let mhz: f64 = field("cpu MHz")?.parse().ok()?;
    let (lanes, simd) = {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                (16, "AVX-512")
            } else if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                (8, "AVX2+FMA")
            } else {
                (4, "SSE")
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            (1, "scalar")
        }
    };
    Some(Peak { cores: threads, lanes, ghz: mhz / 1000.0, simd })
}
