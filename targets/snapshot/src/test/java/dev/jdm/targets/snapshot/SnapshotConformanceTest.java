package dev.jdm.targets.snapshot;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

/**
 * The kit over two snapshots, one persistent, one transient, each half the size of its origin so
 * its COW device (as large as the origin) never fills whatever the kit writes.
 */
class SnapshotConformanceTest extends TargetConformance {
  @Override
  protected String table(List<String> d) {
    return "0 8192 snapshot " + d.get(0) + " " + d.get(1) + " P 8\n"
        + "8192 8192 snapshot " + d.get(2) + " " + d.get(3) + " N 16";
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    return List.of(
        "0 1024 snapshot " + d.get(0) + " " + d.get(1) + " P",
        "0 1024 snapshot " + d.get(0) + " " + d.get(1) + " Q 8",
        "0 1024 snapshot " + d.get(0) + " " + d.get(1) + " P 7",
        "0 1024 snapshot " + d.get(0) + " " + d.get(1) + " P 8 1 no_such_feature",
        "0 1024 snapshot " + d.get(0) + " /no/such/file P 8",
        "0 1024 snapshot /no/such/file " + d.get(1) + " P 8",
        "0 1024 snapshot " + d.get(0) + " " + d.get(0) + " P 8");
  }
}
