package dev.jdm.targets.striped;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

class StripedConformanceTest extends TargetConformance {
  @Override
  protected String table(List<String> d) {
    return "0 16384 striped 2 16 " + d.get(0) + " 0 " + d.get(1) + " 8\n"
        + "16384 24576 striped 3 64 " + d.get(2) + " 0 " + d.get(3) + " 0 " + d.get(0) + " 8192";
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    return List.of(
        "0 1024 striped 2 7 " + d.get(0) + " 0 " + d.get(1) + " 0",
        "0 1024 striped 2 16 " + d.get(0) + " 0",
        "0 1000 striped 2 16 " + d.get(0) + " 0 " + d.get(1) + " 0",
        "0 1024 striped 0 16",
        "0 1024 striped 2 16 " + d.get(0) + " 0 /no/such/file 0",
        "0 1024 striped two 16 " + d.get(0) + " 0 " + d.get(1) + " 0");
  }
}
