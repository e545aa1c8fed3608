import os

from kerasdl.quiet import captured_native_output, is_noise


def test_known_tensorflow_noise_is_recognised():
    assert is_noise("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
    assert is_noise("I0000 00:00:1795611692.064811    3134 port.cc:153] oneDNN custom operations are on.\n")
    assert is_noise("W0000 00:00:1795611692.1    3134 tf_tfl_flatbuffer_helpers.cc:365] Ignored output_format.\n")
    assert is_noise(
        "E0000 00:00:1795611694.348423    3134 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
    )
    assert is_noise("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert is_noise(
        "E0000 00:00:1795619999.215731    1822 util.cc:131] oneDNN supports DT_BOOL only on platforms with "
        "AVX-512. Falling back to the default Eigen-based implementation if present.\n"
    )


def test_real_messages_pass():
    assert not is_noise("kerasdl: error: epochs=0 is out of range\n")
    assert not is_noise("E0000 00:00:1795611694.3    3134 some_kernel.cc:52] Out of memory\n")
    assert not is_noise("UserWarning: something the user should see\n")


def test_native_output_is_captured_and_summarised():
    with captured_native_output() as log:
        os.write(2, b"I0000 00:00:1.0    1 x.cc:1] noise\nreal converter error\n")
        assert log.tail() == "real converter error"
