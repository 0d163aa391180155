"""The book's Chinese search index: the same words as Sphinx's own Chinese search, without its quadratic cost
(Sphinx tests every word against a list of all Latin terms seen so far, shared by every instance)."""
import time
import timeit

from sphinx.search.zh import SearchChinese

from cifar100lab.report.sphinx_lang import _chinese_search

TEXT = "ResNet-20 在 CIFAR-100 上的准确率 accuracy of the networks trained from scratch with Mixup 和 CutMix"


def _words(search, text):
    return [search.stem(w) for w in search.split(text) if search.word_filter(search.stem(w))]


def test_the_chinese_index_has_sphinxs_words_and_its_cost_does_not_grow_with_the_words_seen():
    ours, sphinxs = _chinese_search()({}), SearchChinese({})
    assert _words(ours, TEXT) == _words(sphinxs, TEXT)

    def seconds_to_index(search):  # this thread's CPU time, which the other workers' load does not stretch as it
        # stretches wall time (3.5× once in the suite), the fastest of 5
        return min(timeit.repeat(lambda: _words(search, TEXT * 10), number=1, repeat=5, timer=time.thread_time))

    before = seconds_to_index(ours)
    ours.latin_terms.extend(f"term{i}" for i in range(100_000))  # a book's worth of Latin terms seen (as split adds them)
    # the same words again, timed in the same run (the machine's speed varies): Sphinx's list takes ~10× longer
    assert seconds_to_index(ours) < 3 * before + 0.02
    assert len(_chinese_search()({}).latin_terms) == 0  # each index its own terms
