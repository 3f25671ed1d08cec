package dev.jdm.targets.hello;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

class HelloConformanceTest extends TargetConformance {
  @Override
  protected String table(List<String> d) {
    return "0 8192 hello_target " + d.get(0) + " 0\n8192 8192 hello " + d.get(1) + " 16";
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    return List.of("0 8192 hello_target " + d.get(0), "0 8192 hello /no/such/file 0",
        "0 8192 hello " + d.get(0) + " -1");
  }
}
