package dev.jdm.targets.zero;

import dev.jdm.testkit.TargetConformance;
import java.util.List;

class ZeroConformanceTest extends TargetConformance {
  @Override
  protected String table(List<String> d) {
    return "0 8192 zero\n8192 100 zero";
  }

  @Override
  protected List<String> invalidTables(List<String> d) {
    return List.of("0 10 zero " + d.get(0));
  }

  @Override
  protected Behaviour behaviour() {
    return Behaviour.READS_ZEROS;
  }
}
