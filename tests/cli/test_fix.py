"""verno fix: the policies' mutate rules written into the manifests, every untouched line byte for byte."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: pod-defaults
spec:
  rules:
    - name: add-team
      match:
        any:
          - resources:
              kinds: [Pod]
      mutate:
        patchStrategicMerge:
          metadata:
            labels:
              +(team): TEAM
    - name: always-pull-latest
      match:
        any:
          - resources:
              kinds: [Pod]
      mutate:
        patchStrategicMerge:
          spec:
            containers:
              - (image): "*:latest"
                imagePullPolicy: Always
"""

PODS = """# Pods of the shop
apiVersion: v1
kind: Pod
metadata:
  name: web   # the front end
  namespace: shop
  labels:
    app: 'web'
spec:
  containers:
  - name: web
    image: "nginx:latest"   # pinned later
    imagePullPolicy: "IfNotPresent"
---
apiVersion: v1
kind: Pod
metadata:
  name: db
  labels: {app: db, team: data}
spec:
  containers:
  - name: db
    image: postgres:16
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("TEAM", "platform"))
    pods = tmp_path / "pods.yaml"
    pods.write_text(PODS)
    return policy, pods


def removed_and_added(old: str, new: str) -> tuple[list[str], list[str]]:
    import difflib

    removed, added = [], []
    for line in difflib.ndiff(old.splitlines(keepends=True), new.splitlines(keepends=True)):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def test_dry_run_prints_a_diff_and_writes_nothing(run, files):
    policy, pods = files
    r = run("fix", policy, "-r", pods)
    assert r.exit_code == 0, r.output
    assert pods.read_text() == PODS
    assert f"--- {pods}" in r.stdout and f"+++ {pods}" in r.stdout
    assert "+    team: platform\n" in r.stdout
    assert '-    imagePullPolicy: "IfNotPresent"\n+    imagePullPolicy: "Always"\n' in r.stdout
    assert "not written: add --write" in r.stderr


def test_write_keeps_comments_quoting_and_separators(run, files):
    policy, pods = files
    r = run("fix", policy, "-r", pods, "--write")
    assert r.exit_code == 0, r.output
    new = pods.read_text()
    removed, added = removed_and_added(PODS, new)
    assert removed == ['    imagePullPolicy: "IfNotPresent"\n']
    assert added == ["    team: platform\n", '    imagePullPolicy: "Always"\n']  # in the quotes it had
    # every other line as it was: the comments, the quoted scalars, the flow mapping, the separator
    for line in ("# Pods of the shop\n", "  name: web   # the front end\n", "    app: 'web'\n",
                 '    image: "nginx:latest"   # pinned later\n', "  labels: {app: db, team: data}\n", "---\n"):
        assert line in new
    assert new.split("---\n")[1] == PODS.split("---\n")[1]  # the second document was left alone
    docs = list(yaml.safe_load_all(new))
    assert docs[0]["metadata"]["labels"] == {"app": "web", "team": "platform"}
    assert docs[0]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
    again = run("fix", policy, "-r", pods)
    assert again.exit_code == 0 and again.stdout == "" and "no changes" in again.stderr


def test_the_example_layout_with_indented_sequences(run, tmp_path):
    """The bundled manifests indent sequences under their key (``- `` at +4): kept as they are."""
    source = (EXAMPLES / "resources" / "bad-pods.yaml").read_text()
    pods = tmp_path / "bad-pods.yaml"
    pods.write_text(source)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("TEAM", "platform"))
    r = run("fix", policy, "-r", pods, "--write")
    assert r.exit_code == 0, r.output
    new = pods.read_text()
    removed, added = removed_and_added(source, new)
    assert removed == []
    assert added.count("  labels:\n") == source.count("kind: Pod") and "      imagePullPolicy: Always\n" in added
    assert new.count("\n---\n") == source.count("\n---\n")


def test_still_failing_resources_are_listed(run, tmp_path):
    pods = tmp_path / "bad-pods.yaml"
    pods.write_text((EXAMPLES / "resources" / "bad-pods.yaml").read_text())
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("TEAM", "platform"))
    r = run("fix", EXAMPLES / "policies", policy, "-r", pods)
    assert r.exit_code == 1
    assert "still failing after the mutations:" in r.stderr
    assert f"policy restrict-image-registries -> resource shop/Pod/bad-registry ({pods} document 1)" in r.stderr
    assert "1 - validate-registries: validation error: Images must come from registry.example.com." in r.stderr
    assert "shop/Pod/bad-latest" in r.stderr and "validate-image-tag" in r.stderr
    assert "+    team: platform" in r.stdout  # the fix itself is still shown


def test_a_fix_that_makes_validation_pass_is_not_listed(run, tmp_path):
    validate = tmp_path / "require-team.yaml"
    validate.write_text("""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  validationFailureAction: Enforce
  rules:
    - name: team
      match: {any: [{resources: {kinds: [Pod]}}]}
      validate:
        message: a team label is required
        pattern: {metadata: {labels: {team: "?*"}}}
""")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.replace("TEAM", "platform"))
    pods = tmp_path / "pods.yaml"
    pods.write_text(PODS)
    assert run("apply", validate, "-r", pods).exit_code == 1
    r = run("fix", policy, validate, "-r", pods, "--write")
    assert r.exit_code == 0, r.output
    assert "still failing" not in r.stderr
    assert run("apply", validate, "-r", pods).exit_code == 0


def test_json_manifest_keeps_its_indentation(run, files, tmp_path):
    policy, _ = files
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api", "namespace": "shop"},
           "spec": {"containers": [{"name": "api", "image": "api:latest"}]}}
    path = tmp_path / "pod.json"
    path.write_text(json.dumps(pod, indent=4) + "\n")
    r = run("fix", policy, "-r", path, "--write")
    assert r.exit_code == 0, r.output
    text = path.read_text()
    pod["metadata"]["labels"] = {"team": "platform"}
    pod["spec"]["containers"][0]["imagePullPolicy"] = "Always"
    assert text == json.dumps(pod, indent=4) + "\n"


def test_strings_yaml_1_1_would_misread_are_quoted(run, tmp_path, files):
    _, pods = files
    policy = tmp_path / "yes.yaml"
    policy.write_text(POLICY.replace("TEAM", '"yes"'))
    r = run("fix", policy, "-r", pods, "--write")
    assert r.exit_code == 0, r.output
    assert '    team: "yes"\n' in pods.read_text()
    assert run("apply", policy, "-r", pods).exit_code == 0


def test_generated_values_are_not_written_back(run, tmp_path, files):
    _, pods = files
    policy = tmp_path / "random.yaml"
    policy.write_text(POLICY.replace("TEAM", "\"{{ random('[a-z0-9]{12}') }}\""))
    r = run("fix", policy, "-r", pods, "--write")
    assert r.exit_code == 1
    assert pods.read_text() == PODS
    assert ("cannot write back shop/Pod/web (" in r.stderr
            and "gives a different result on each run at metadata.labels.team" in r.stderr)


def test_a_change_inside_an_anchor_is_not_written(run, tmp_path, files):
    policy, _ = files
    pods = tmp_path / "anchored.yaml"
    source = """apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: &labels
    app: web
  annotations: *labels
spec:
  containers:
  - name: web
    image: nginx:1.27
"""
    pods.write_text(source)
    r = run("fix", policy, "-r", pods, "--write")
    assert r.exit_code == 1
    assert pods.read_text() == source
    assert "metadata.labels.team is inside the YAML anchor &labels" in r.stderr


def test_write_to_stdin_is_refused(run, files):
    policy, _ = files
    r = run("fix", policy, "-r", "-", "--write", input=PODS)
    assert r.exit_code == 2 and "--write cannot write to stdin" in r.stderr


def test_resource_errors_name_the_file(run, files, tmp_path):
    policy, _ = files
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [x]\n")
    r = run("fix", policy, "-r", bad)
    assert r.exit_code == 1 and "bad.yaml" in r.stderr and "metadata.name" in r.stderr


def test_a_quoted_list_element_keeps_its_quotes_and_comment(run, tmp_path):
    policy = tmp_path / "port.yaml"
    policy.write_text("""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: port}
spec:
  rules:
    - name: port
      match: {any: [{resources: {kinds: [Pod]}}]}
      mutate:
        patchesJson6902: |-
          - op: replace
            path: /spec/containers/0/args/0
            value: "--port=8080"
""")
    pods = tmp_path / "pod.yaml"
    source = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  containers:\n"
              "  - name: web\n    image: nginx:1.27\n    args:\n    - '--port=80'   # listen\n    - --verbose\n")
    pods.write_text(source)
    r = run("fix", policy, "-r", pods, "--write")
    assert r.exit_code == 0, r.output
    removed, added = removed_and_added(source, pods.read_text())
    assert removed == ["    - '--port=80'   # listen\n"]
    assert len(added) == 1 and re.fullmatch(r"    - '--port=8080' +# listen\n", added[0])  # comment kept in column
