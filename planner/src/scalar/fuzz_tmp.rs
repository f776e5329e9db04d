use super::*;
#[test]
fn fuzz_floats_tmp() {
    let data = std::fs::read_to_string("/tmp/sc/fl.tsv").unwrap();
    let mut bad = 0;
    for line in data.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let show = |r: Result<Value>, efd: i32| match r {
            Ok(v) => format_text(&v, efd),
            Err(_) => "ERR".to_string(),
        };
        let got = [
            show(parse_text(&DataType::Float8, f[0]), 1),
            show(parse_text(&DataType::Float4, f[0]), 1),
            show(parse_text(&DataType::Float8, f[0]), 0),
            show(parse_text(&DataType::Float4, f[0]), 0),
        ];
        for i in 0..4 {
            if got[i] != f[i + 1] {
                bad += 1;
                println!("{} [{i}]: expected {} got {}", f[0], f[i + 1], got[i]);
            }
        }
    }
    assert_eq!(bad, 0);
}
