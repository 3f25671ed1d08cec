package dev.jdm.targets.dust;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

class DustConformanceTest extends TargetConformance {
  @Override
  protected String table(List<String> d) {
    return "0 8192 dust " + d.get(0) + " 0 512\n"
        + "8192 4096 dust " + d.get(1) + " 100 4096\n"
        + "12288 8192 dust " + d.get(2) + " 8000 65536";
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    return List.of(
        "0 8192 dust " + d.get(0) + " 0",
        "0 8192 dust " + d.get(0) + " 0 512 extra",
        "0 8192 dust " + d.get(0) + " 0 0",
        "0 8192 dust " + d.get(0) + " 0 256",
        "0 8192 dust " + d.get(0) + " 0 1000",
        "0 8 dust " + d.get(0) + " 0 8192",
        "0 8192 dust " + d.get(0) + " x 512",
        "0 8192 dust /no/such/file 0 512",
        "0 8192 dust " + d.get(0) + " 10000 512");
  }
}
