//! Picks tract's aarch64 kernel family on Android from `/proc/cpuinfo`.
//!
//! tract-linalg 0.23.9 (`src/arm64/mod.rs`, `Kind::choose`) reads `/proc/cpuinfo` only
//! under `cfg!(target_os = "linux")`, which is false on Android, so every phone gets
//! `Kind::Generic`. It honours the `TRACT_CPU_AARCH64_KIND` environment variable,
//! read once, lazily, the first time tract selects a kernel. tract matches that value,
//! lowercased, by substring, in this order: `a53`, `a55`, `a72`, `a73`, `a75`,
//! `neoverse`, `applem`; anything else means `Generic`. This module maps the CPU's
//! big cores to one of those values and sets the variable before tract's first use.
//!
//! Part numbers: Linux `arch/arm64/include/asm/cputype.h` (`ARM_CPU_PART_*`,
//! `QCOM_CPU_PART_*`) and the `MIDR_EL1` pages of the Arm Cortex TRMs.

/// The environment variable tract-linalg reads to force its aarch64 CPU kind.
pub const TRACT_KIND_VAR: &str = "TRACT_CPU_AARCH64_KIND";

/// Every value tract-linalg 0.23.9's `Kind::choose` recognises (`applem` is never
/// produced here: Apple cores run iOS/macOS, where tract detects them itself).
pub const TRACT_KINDS: [&str; 7] = ["a53", "a55", "a72", "a73", "a75", "neoverse", "applem"];

/// A CPU core type recognised in `/proc/cpuinfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreType {
    /// MIDR implementer (0x41 Arm, 0x51 Qualcomm) and primary part number.
    pub implementer: u8,
    pub part: u16,
    /// The core's name, for logs.
    pub name: &'static str,
    /// The `TRACT_CPU_AARCH64_KIND` value nearest to this core.
    pub tract_kind: &'static str,
    /// Relative performance: in-order little cores below 10, out-of-order cores 10 and up.
    pub rank: u8,
}

/// Big cores newer than the A75 map to `neoverse`: Neoverse N1 is derived from the
/// Cortex-A76, V1 from the X1, N2 from the A710 and V2 from the X3, and tract maps
/// N1/N2/V1/V2 parts to `Kind::Neoverse` itself. In-order little cores newer than the
/// A55 (A510, A520) map to `a55`, and the A35 to `a53`; the A57 to `a72`, its successor.
const CORES: &[(u8, u16, &str, &str, u8)] = &[
    (0x41, 0xd04, "Cortex-A35", "a53", 1),
    (0x41, 0xd03, "Cortex-A53", "a53", 2),
    (0x41, 0xd05, "Cortex-A55", "a55", 3),
    (0x41, 0xd46, "Cortex-A510", "a55", 4),
    (0x41, 0xd80, "Cortex-A520", "a55", 5),
    (0x41, 0xd07, "Cortex-A57", "a72", 10),
    (0x41, 0xd08, "Cortex-A72", "a72", 11),
    (0x41, 0xd09, "Cortex-A73", "a73", 12),
    (0x41, 0xd0a, "Cortex-A75", "a75", 13),
    (0x41, 0xd0b, "Cortex-A76", "neoverse", 14),
    (0x41, 0xd0c, "Neoverse-N1", "neoverse", 14),
    (0x41, 0xd0e, "Cortex-A76AE", "neoverse", 14),
    (0x41, 0xd0d, "Cortex-A77", "neoverse", 15),
    (0x41, 0xd41, "Cortex-A78", "neoverse", 16),
    (0x41, 0xd42, "Cortex-A78AE", "neoverse", 16),
    (0x41, 0xd4b, "Cortex-A78C", "neoverse", 16),
    (0x41, 0xd47, "Cortex-A710", "neoverse", 17),
    (0x41, 0xd49, "Neoverse-N2", "neoverse", 17),
    (0x41, 0xd40, "Neoverse-V1", "neoverse", 18),
    (0x41, 0xd44, "Cortex-X1", "neoverse", 18),
    (0x41, 0xd4c, "Cortex-X1C", "neoverse", 18),
    (0x41, 0xd4d, "Cortex-A715", "neoverse", 18),
    (0x41, 0xd48, "Cortex-X2", "neoverse", 19),
    (0x41, 0xd81, "Cortex-A720", "neoverse", 19),
    (0x41, 0xd4e, "Cortex-X3", "neoverse", 20),
    (0x41, 0xd4f, "Neoverse-V2", "neoverse", 20),
    (0x41, 0xd87, "Cortex-A725", "neoverse", 20),
    (0x41, 0xd82, "Cortex-X4", "neoverse", 21),
    (0x41, 0xd85, "Cortex-X925", "neoverse", 22),
    // Qualcomm Kryo parts built on Arm cores (0x800 is also QCOM_CPU_PART_FALKOR_V1,
    // a server core no phone carries).
    (0x51, 0x800, "Kryo 2xx Gold (Cortex-A73)", "a73", 12),
    (0x51, 0x801, "Kryo 2xx Silver (Cortex-A53)", "a53", 2),
    (0x51, 0x802, "Kryo 3xx Gold (Cortex-A75)", "a75", 13),
    (0x51, 0x803, "Kryo 3xx Silver (Cortex-A55)", "a55", 3),
    (0x51, 0x804, "Kryo 4xx Gold (Cortex-A76)", "neoverse", 14),
    (0x51, 0x805, "Kryo 4xx Silver (Cortex-A55)", "a55", 3),
];

fn lookup(implementer: u8, part: u16) -> Option<CoreType> {
    let &(implementer, part, name, tract_kind, rank) =
        CORES.iter().find(|c| c.0 == implementer && c.1 == part)?;
    Some(CoreType { implementer, part, name, tract_kind, rank })
}

fn hex(value: &str) -> Option<u32> {
    let digits = value.strip_prefix("0x").or_else(|| value.strip_prefix("0X"))?;
    u32::from_str_radix(digits, 16).ok()
}

/// The `(implementer, part)` of every `CPU part` line, each paired with the
/// `CPU implementer` line before it in the same processor block; `None` where either
/// is missing or not hexadecimal. Some old (3.x) kernels print one description for all
/// processors, that of the CPU the reader ran on: that yields a single entry.
fn parts(cpuinfo: &str) -> Vec<Option<(u8, u16)>> {
    let mut implementer = None;
    let mut found = Vec::new();
    for line in cpuinfo.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        match (key.trim(), value.trim()) {
            ("processor", _) => implementer = None,
            ("CPU implementer", v) => implementer = hex(v).and_then(|i| u8::try_from(i).ok()),
            ("CPU part", v) => {
                let part = hex(v).and_then(|p| u16::try_from(p).ok());
                found.push(implementer.zip(part));
            }
            _ => {}
        }
    }
    found
}

/// The highest-ranked core type in `cpuinfo` (the text of `/proc/cpuinfo`), i.e. the
/// big cores of a big.LITTLE or DynamIQ SoC.
///
/// Returns `None` when no core is recognised (an empty or garbled file, one with only a
/// `Hardware` line, an unknown implementer such as Apple's 0x61), and also when some core
/// is unrecognised and the best recognised one is an in-order little core: there the
/// unrecognised one is likely the big core (Samsung Exynos M1 + Cortex-A53), and
/// tuning for the A53 would be wrong. An unrecognised core beside a recognised
/// out-of-order one (Exynos 9820: Samsung M4 + A75 + A55) gives the latter.
pub fn big_core(cpuinfo: &str) -> Option<CoreType> {
    let parts = parts(cpuinfo);
    let known: Vec<CoreType> = parts.iter().flatten().filter_map(|&(i, p)| lookup(i, p)).collect();
    let best = known.iter().copied().max_by_key(|c| c.rank)?;
    (best.rank >= 10 || known.len() == parts.len()).then_some(best)
}

/// The `TRACT_CPU_AARCH64_KIND` value for the big cores in `cpuinfo`; `None` as
/// [`big_core`] says.
pub fn big_core_kind(cpuinfo: &str) -> Option<&'static str> {
    big_core(cpuinfo).map(|c| c.tract_kind)
}

/// On Android aarch64, sets tract's `TRACT_CPU_AARCH64_KIND` setting from `/proc/cpuinfo`
/// unless the environment already sets it; elsewhere does nothing. tract reads the
/// setting once, before its first use: [`crate::Classifier`] calls this before loading a
/// model. Only the first call acts.
///
/// Returns the value this call set, or `None`: not Android aarch64, already set by the
/// user, `/proc/cpuinfo` unreadable, or no core mapped (tract then stays `Generic`).
/// It never fails otherwise.
///
/// It sets tract's own override (`tract_data::knobs::set_str`), not the process
/// environment, so no other thread's `getenv` can race it.
pub fn configure_tract_for_android() -> Option<&'static str> {
    static SET: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    *SET.get_or_init(|| if ENABLED { configure() } else { None })
}

const ENABLED: bool = cfg!(all(target_os = "android", target_arch = "aarch64"));

/// The value to set: none if the variable is already set or the CPU is not mapped.
fn to_set(already_set: bool, cpuinfo: Option<&str>) -> Option<&'static str> {
    if already_set {
        return None;
    }
    big_core_kind(cpuinfo?)
}

fn configure() -> Option<&'static str> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok();
    let kind = to_set(std::env::var_os(TRACT_KIND_VAR).is_some(), cpuinfo.as_deref())?;
    tract_onnx::tract_core::knobs::set_str(TRACT_KIND_VAR, kind).then_some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!("../tests/data/cpuinfo/", $name))
        };
    }

    #[test]
    fn big_cores_of_real_cpuinfo_files() {
        let cases = [
            (fixture!("snapdragon865.txt"), "Cortex-A77", "neoverse"), // ARM parts under Qualcomm
            (fixture!("snapdragon855.txt"), "Kryo 4xx Gold (Cortex-A76)", "neoverse"),
            (fixture!("exynos9820.txt"), "Cortex-A75", "a75"), // Samsung M4 (0x53) unknown: skipped
            (fixture!("pixel7_tensor_g2.txt"), "Cortex-X1", "neoverse"), // X1 over A78 over A55
            (fixture!("helio_p22_a53.txt"), "Cortex-A53", "a53"),
            (fixture!("msm8953_single_block.txt"), "Cortex-A53", "a53"),
            (fixture!("raspberry_pi4.txt"), "Cortex-A72", "a72"),
        ];
        for (text, name, kind) in cases {
            let core = big_core(text).unwrap_or_else(|| panic!("{name}: not recognised"));
            assert_eq!((core.name, core.tract_kind, big_core_kind(text)), (name, kind, Some(kind)));
        }
        let x1 = big_core(fixture!("pixel7_tensor_g2.txt")).unwrap();
        assert_eq!((x1.implementer, x1.part, x1.rank), (0x41, 0xd44, 18));
    }

    #[test]
    fn unknowns_give_none() {
        assert_eq!(big_core_kind(fixture!("apple_m1_asahi.txt")), None);
        assert_eq!(big_core_kind(fixture!("hardware_only.txt")), None);
        assert_eq!(big_core_kind(""), None);
        assert_eq!(big_core_kind("CPU implementer : 0x41\nCPU part : banana\n\0\u{fffd}:::"), None);
        assert_eq!(big_core_kind("CPU part : 0xd03\n"), None, "a part without implementer");
        let second_lacks_implementer = "processor : 0\nCPU implementer : 0x41\nCPU part : 0xd03\n\n\
                                        processor : 1\nCPU part : 0xd0a\n";
        assert_eq!(big_core_kind(second_lacks_implementer), None, "implementers do not leak across blocks");
    }

    #[test]
    fn unknown_core_beside_little_ones_gives_none() {
        let exynos_8890 = "processor : 0\nCPU implementer : 0x41\nCPU part : 0xd03\n\n\
                           processor : 4\nCPU implementer : 0x53\nCPU part : 0x001\n";
        assert_eq!(big_core_kind(exynos_8890), None);
        let all_a53 = exynos_8890.replace("0x53", "0x41").replace("0x001", "0xd03");
        assert_eq!(big_core_kind(&all_a53), Some("a53"));
    }

    #[test]
    fn every_kind_is_one_tract_accepts_and_matches_itself_first() {
        for &(_, _, name, kind, _) in CORES {
            // tract tests `contains` in TRACT_KINDS order: the first hit must be the kind.
            assert_eq!(TRACT_KINDS.iter().find(|k| kind.contains(*k)), Some(&kind), "{name}");
        }
    }

    #[test]
    fn user_setting_wins_and_off_android_nothing_is_set() {
        let pixel = Some(fixture!("pixel7_tensor_g2.txt"));
        assert_eq!(to_set(false, pixel), Some("neoverse"));
        assert_eq!(to_set(true, pixel), None, "the user's own setting wins");
        assert_eq!(to_set(false, None), None, "unreadable /proc/cpuinfo");
        assert_eq!(ENABLED, cfg!(target_os = "android") && cfg!(target_arch = "aarch64"));
        if !ENABLED {
            let before = std::env::var_os(TRACT_KIND_VAR);
            assert_eq!(configure_tract_for_android(), None);
            assert_eq!(std::env::var_os(TRACT_KIND_VAR), before);
        }
    }
}
