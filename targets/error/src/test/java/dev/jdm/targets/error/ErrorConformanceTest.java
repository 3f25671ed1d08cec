package dev.jdm.targets.error;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

class ErrorConformanceTest extends TargetConformance {
  @Override
  protected String table(List<String> d) {
    return "0 8192 error\n8192 8 error";
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    return List.of("0 10 error " + d.get(0));
  }

  @Override
  protected Behaviour behaviour() {
    return Behaviour.FAILS_IO;
  }
}
