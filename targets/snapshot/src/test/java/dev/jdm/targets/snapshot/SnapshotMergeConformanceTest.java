package dev.jdm.targets.snapshot;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

/** The kit over a snapshot-merge of an empty snapshot: it merges nothing and passes I/O on. */
class SnapshotMergeConformanceTest extends TargetConformance {
  @Override
  protected String table(List<String> d) {
    return "0 16384 snapshot-merge " + d.get(0) + " " + d.get(1) + " P 8";
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    return List.of(
        "0 1024 snapshot-merge " + d.get(0) + " " + d.get(1) + " N 8",
        "0 1024 snapshot-merge " + d.get(0) + " " + d.get(1),
        "0 1024 snapshot-merge " + d.get(0) + " /no/such/file P 8");
  }
}
