"""``sklearn-dsc info``: what a model file holds."""

from ._cli_data import load_model
from ._cli_fit import OptionNames, anchor, why_untrained
from ._wording import counted, listed, named_by, setting_list


def add(commands, debug):
    sub = commands.add_parser(
        "info",
        parents=[debug],
        help="describe a model file",
        description="Print what a model file holds.",
    )
    sub.add_argument("model", metavar="MODEL")
    sub.set_defaults(run=run)


def run(args):
    model = load_model(args.model, "info describes a model file, as fit writes one")
    from ._embedder import DeepSpectralClusteringEmbedder  # loaded with the model

    names = getattr(model, "feature_names_in_", None)
    shown = "unnamed" if names is None else listed(names, limit=8, total=False)
    print(f"DeepSpectralClusteringEmbedder, {model.n_features_in_} features ({shown})")
    classes = listed(model.classes_, limit=20, total=False)
    print(f"classes ({len(model.classes_)}): {classes}")
    print(
        f"embedding: {counted(model.class_centroids_.shape[1], 'dimension')}; "
        f"{counted(model.n_iter_, 'epoch')}"
    )
    if model.init_ is not None:
        print(f"anchor: {anchor(model)}")
    untrained = why_untrained(model)
    if untrained:
        print(f"no trained network kept: {untrained}")
    defaults = DeepSpectralClusteringEmbedder().get_params()
    changed = {
        name: value
        for name, value in model.get_params().items()
        if value != defaults[name]
    }
    with named_by(OptionNames()):  # "--init pca --max-iter 2", as fit takes them
        given = setting_list(changed.items())
    print(f"parameters other than the defaults: {given or 'none'}")
    return 0
