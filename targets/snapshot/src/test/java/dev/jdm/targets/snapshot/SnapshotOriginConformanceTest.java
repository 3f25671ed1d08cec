package dev.jdm.targets.snapshot;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

/** The kit over snapshot-origin targets with no snapshot: a plain pass-through. */
class SnapshotOriginConformanceTest extends TargetConformance {
  @Override
  protected String table(List<String> d) {
    return "0 16384 snapshot-origin " + d.get(0) + "\n16384 16384 snapshot-origin " + d.get(1);
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    return List.of("0 1024 snapshot-origin", "0 1024 snapshot-origin " + d.get(0) + " 0",
        "0 1024 snapshot-origin /no/such/file");
  }
}
