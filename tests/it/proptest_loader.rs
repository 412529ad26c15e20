//! Arbitrary bytes and YAML-like text never make the loader or the checks panic.

use nautes_lint::engine::{Settings, validate};
use nautes_lint::tree::MemoryTree;
use proptest::prelude::*;

fn yamlish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "apiVersion: nautes.resource.nautes.io/v1alpha1\n",
        "kind: DeploymentRuntime\n",
        "kind: Environment\n",
        "metadata:\n",
        "  name: dr-x\n",
        "spec:\n",
        "  destination:\n",
        "    environment: env-dev\n",
        "  destination: env-dev\n",
        "  projectsRef: [a, b]\n",
        "- ",
        "  - ",
        ": ",
        "{",
        "}",
        "[",
        "]",
        ",",
        "&a ",
        "*a",
        "!!str ",
        "'",
        "\"",
        "|\n",
        ">\n",
        "---\n",
        "...\n",
        "#c\n",
        "\n",
        "  ",
        "\t",
        "yes",
        "0755",
        "~",
        "é",
        "日",
        "? ",
        "key",
        "value",
        "\r\n",
        "%YAML 1.2\n",
        "<<: *a\n",
    ]);
    prop::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
}

fn check(path: &str, bytes: Vec<u8>) {
    let tree = MemoryTree::new([(path.to_owned(), bytes)]);
    let report = validate(&tree, Some(&MemoryTree::default()), &Settings::default());
    assert_eq!(report.files, 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let _ = nautes_lint::yaml::parse(&text);
        check("runtimes/x.yaml", bytes);
    }

    #[test]
    fn yaml_like_text(text in yamlish()) {
        let _ = nautes_lint::yaml::parse(&text);
        check("runtimes/x.yaml", text.clone().into_bytes());
        check("projects/p/x.yaml", text.into_bytes());
    }
}
