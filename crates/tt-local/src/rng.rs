//! A small seeded random source (SplitMix64), so that initial weights, data order and
//! sampling are the same on every machine and never touch OS randomness.

/// SplitMix64 with a normal sampler on top.
#[derive(Debug, Clone)]
pub(crate) struct SeededRng {
    state: u64,
}

impl SeededRng {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// `n` normal values scaled by `std`.
    pub(crate) fn normals(&mut self, n: usize, std: f64) -> Vec<f32> {
        (0..n).map(|_| (self.normal() * std) as f32).collect()
    }

    /// Shuffles in place (Fisher–Yates).
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_numbers_and_shuffles() {
        let (mut a, mut b) = (SeededRng::new(42), SeededRng::new(42));
        assert_eq!(a.normals(16, 1.0), b.normals(16, 1.0));
        let (mut left, mut right) = ((0..20).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
        a.shuffle(&mut left);
        b.shuffle(&mut right);
        assert_eq!(left, right);
        left.sort_unstable();
        assert_eq!(left, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn normals_have_roughly_unit_variance() {
        let values = SeededRng::new(1).normals(20_000, 1.0);
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64;
        let variance = values.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>()
            / values.len() as f64;
        assert!(
            mean.abs() < 0.05 && (variance - 1.0).abs() < 0.05,
            "mean {mean}, variance {variance}"
        );
    }
}
