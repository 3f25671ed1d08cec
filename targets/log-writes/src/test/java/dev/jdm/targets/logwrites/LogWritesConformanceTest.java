package dev.jdm.targets.logwrites;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

class LogWritesConformanceTest extends TargetConformance {
  /** Room on the logs for everything the kit writes, so that logging never stops. */
  @Override
  protected long backingSectors() {
    return 131072;
  }

  @Override
  protected String table(List<String> d) {
    return "0 8192 log-writes " + d.get(0) + " " + d.get(1) + "\n"
        + "8192 4096 log-writes " + d.get(2) + " " + d.get(3);
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    return List.of(
        "0 8192 log-writes " + d.get(0),
        "0 8192 log-writes /no/such/file " + d.get(1),
        "0 8192 log-writes " + d.get(0) + " /no/such/file",
        "0 200000 log-writes " + d.get(0) + " " + d.get(1));
  }
}
