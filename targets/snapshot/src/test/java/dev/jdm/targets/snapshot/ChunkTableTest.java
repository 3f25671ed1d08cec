package dev.jdm.targets.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ChunkTableTest {
  @Test
  void behavesLikeAMapThroughGrowthAndRemoval() {
    ChunkTable t = new ChunkTable();
    Map<Long, Long> model = new HashMap<>();
    Random rnd = new Random(1);
    for (int i = 0; i < 200_000; i++) {
      long k = rnd.nextInt(5000);
      switch (rnd.nextInt(3)) {
        case 0 -> {
          long v = rnd.nextInt(1 << 20);
          t.put(k, v);
          model.put(k, v);
        }
        case 1 -> {
          Long old = model.remove(k);
          assertEquals(old == null ? ChunkTable.ABSENT : old, t.remove(k));
        }
        default -> assertEquals(model.getOrDefault(k, ChunkTable.ABSENT), t.get(k));
      }
      if (i % 10_000 == 0) {
        assertEquals(model.size(), t.size());
      }
    }
    for (long k = 0; k < 5000; k++) {
      assertEquals(model.getOrDefault(k, ChunkTable.ABSENT), t.get(k));
    }
  }
}
