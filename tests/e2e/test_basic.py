"""The seed's request, end to end, with points whose average is known."""
import unittest

from harness import Server


class SeedAverage(unittest.TestCase):
    def setUp(self):
        self.srv = Server()

    def tearDown(self):
        self.srv.stop()

    def test_average_of_newest_five(self):
        values = [3, 1, 4, 1, 5, 9, 2, 6]
        status, out = self.srv.ingest(
            ['{"series": "default", "value": %d}' % v for v in values])
        self.assertEqual(status, 200)
        self.assertEqual(out["accepted"], len(values))
        status, out = self.srv.get("/average?window_size=5")
        self.assertEqual(status, 200)
        self.assertEqual(out, {"series": "default", "window_size": 5,
                               "count": 5, "average": (1 + 5 + 9 + 2 + 6) / 5})


if __name__ == "__main__":
    unittest.main()
