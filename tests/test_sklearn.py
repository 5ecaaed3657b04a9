"""scikit-learn's estimator API, held to scikit-learn's own estimator checks and used in its own tools."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import check_methods_subset_invariance, parametrize_with_checks

from digitnet.data import load
from digitnet.sklearn import DigitnetClassifier

# Small and quick for the checks' toy data sets (tens of rows, a few features), yet enough to fit them.
QUICK = {"sizes": (0, 32, 0), "epochs": 40, "batch_size": 16, "learning_rate": 0.05}


# float32 matrix products give results that differ in the 7th digit with the batch's shape (BLAS picks its kernel
# by size), and this check asks for 1e-7; in float64 the same check passes (the test after this one).
FLOAT32 = {"check_methods_subset_invariance": "float32 sums differ by about 1e-7 with the batch's shape"}


@parametrize_with_checks([DigitnetClassifier(**QUICK)], expected_failed_checks=lambda estimator: FLOAT32)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_predictions_do_not_depend_on_the_batch_in_float64():
    check_methods_subset_invariance("DigitnetClassifier", DigitnetClassifier(**QUICK, dtype="float64"))


@pytest.fixture(scope="module")
def digits():
    sample = load("sample")
    return sample.train.X[:1200], sample.train.y[:1200], sample.test.X[:500], sample.test.y[:500]


def test_parameters_are_the_train_config_fields():
    params = DigitnetClassifier().get_params()
    assert params["learning_rate"] == 0.2 and params["sizes"] == (784, 800, 10) and params["dev_size"] == 0
    assert DigitnetClassifier(epochs=3).set_params(optimizer="adam").get_params()["optimizer"] == "adam"
    with pytest.raises(TypeError, match="unknown parameters \\['learning_rat'\\]"):
        DigitnetClassifier(learning_rat=0.1)


def test_fit_predict_on_digits_with_string_labels_and_a_dev_split(digits):
    X, y, X_test, y_test = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    model = DigitnetClassifier(sizes=(784, 64, 10), epochs=8, batch_size=64, learning_rate=0.1, dev_size=200)
    model.fit(X, names[y])
    assert list(model.classes_) == sorted(names)
    assert model.history_[-1].dev_accuracy is not None  # the dev split was held out and measured
    assert model.score(X_test, names[y_test]) > 0.8  # 1000 digits, 8 epochs; chance is 0.1
    P = model.predict_proba(X_test)
    assert P.shape == (500, 10) and np.allclose(P.sum(axis=1), 1)
    np.testing.assert_array_equal(model.predict(X_test), model.classes_[P.argmax(axis=1)])


def test_a_convolutional_spec_reads_rows_as_images(digits):
    X, y, X_test, y_test = digits
    model = DigitnetClassifier(sizes="conv3x3x4-pool-10", epochs=2, batch_size=64, learning_rate=0.05)
    assert model.fit(X, y).score(X_test, y_test) > 0.7
    assert model.get_params()["sizes"] == "conv3x3x4-pool-10"  # the parameter as given, as scikit-learn requires
    assert model.network_.input_shape == (28, 28, 1)
    with pytest.raises(ValueError, match="image of 784 values, but X has 64 features"):
        model.fit(X[:, :64], y)


def test_bad_parameters_are_refused_at_fit_with_the_field_named(digits):
    X, y, _, _ = digits
    with pytest.raises(Exception, match="learning_rate must be greater than 0"):
        DigitnetClassifier(learning_rate=-1).fit(X, y)


def test_pipeline_grid_search_and_cross_validation(digits):
    X, y, X_test, y_test = digits
    # Floats in [0, 1] from a pipeline step: the estimator takes them as they are.
    pipeline = make_pipeline(
        FunctionTransformer(lambda X: X / 255.0),
        DigitnetClassifier(sizes=(0, 32, 0), epochs=4, batch_size=64, learning_rate=0.05),
    )
    assert pipeline.fit(X, y).score(X_test, y_test) > 0.8

    search = GridSearchCV(
        DigitnetClassifier(sizes=(0, 16, 0), epochs=3, batch_size=64), {"learning_rate": [1e-5, 0.05]}, cv=2
    )
    search.fit(X, y)
    assert search.best_params_ == {"learning_rate": 0.05}  # a learning rate of 1e-5 barely moves in 3 epochs
    assert len(search.cv_results_["mean_test_score"]) == 2

    scores = cross_val_score(DigitnetClassifier(sizes=(0, 16, 0), epochs=3, batch_size=64, learning_rate=0.05), X, y)
    assert scores.shape == (5,) and scores.min() > 0.7
