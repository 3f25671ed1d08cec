package dev.jdm.targets.linear;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

class LinearConformanceTest extends TargetConformance {
  @Override
  protected String table(List<String> d) {
    return "0 8192 linear " + d.get(0) + " 0\n"
        + "8192 4096 linear " + d.get(1) + " 100\n"
        + "12288 8192 linear " + d.get(2) + " 8000";
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    return List.of(
        "0 8192 linear " + d.get(0),
        "0 8192 linear " + d.get(0) + " 0 extra",
        "0 8192 linear " + d.get(0) + " sector",
        "0 8192 linear /no/such/file 0",
        "0 8192 linear " + d.get(0) + " 10000");
  }
}
