"""``python -m core similar``: the galaxies nearest to each query in an embedding index.

    python -m core similar --index EMB.parquet --id 587722982276399181 --id ... -k 10 [--out FILE]
    python -m core similar --index EMB.parquet --image galaxy.jpg --model models/demo -k 10
    python -m core similar --index EMB.parquet --images DIR --model models/demo -k 5 --out near.csv

writes CSV ``QUERY,RANK,ID,DISTANCE`` (rank 1 = nearest; distance = 1 - cosine similarity of
the embeddings), to FILE or standard output. The query itself is left out when it is in the
index (for an image, when its file stem is an index ID). Image queries need --model, the
model that made the index. An image that cannot be used (unreadable, empty, not a JPEG or
PNG) is listed on standard error with the reason and the call exits 1; every other query
is still answered.
"""

from __future__ import annotations

import argparse
import sys

from core.exit_codes import ExitCode, epilog


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "similar", help="nearest galaxies in an embedding index, for IDs or images",
        description=__doc__.split("\n\n", 1)[1].replace("``", ""),
        epilog=epilog() + "\n\nUnusable query images exit 1: each is listed on stderr with its reason and the "
        "other queries are answered.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", metavar="EMB.parquet", required=True, help="index written by 'embed'")
    p.add_argument("--id", action="append", default=[], metavar="ID", help="an ID in the index (repeatable)")
    p.add_argument("--image", action="append", default=[], metavar="FILE", help="an image file (repeatable)")
    p.add_argument("--images", metavar="DIR", help="query every image in DIR (QUERY = file stem)")
    p.add_argument("--model", metavar="RUN", help="the run that made the index (needed for image queries)")
    p.add_argument("-k", type=int, default=10, metavar="K", help="neighbours per query (default 10)")
    p.add_argument("--out", metavar="FILE", help="CSV to write (default: standard output)")
    return p


def run(args) -> int:
    from core.explain.index_file import IndexFileError, read_index
    from core.explain.similar import UnknownIdError, check_model_matches, id_queries, image_queries, rows_csv, search
    from core.images.reading import ImageInputError
    from core.training.checkpoint import CheckpointError

    refused: list[tuple[str, str]] = []
    try:
        if not (args.id or args.image or args.images):
            raise ValueError("nothing to look up: give --id ID, --image FILE or --images DIR")
        if (args.image or args.images) and not args.model:
            raise ValueError("--image/--images need --model RUN, the model that made the index")
        if args.k < 1:
            raise ValueError(f"-k must be at least 1, got {args.k}")
        index = read_index(args.index)
        queries = id_queries(index, args.id)
        files = list(args.image)
        if args.images:
            from core.images.folder import list_image_files

            found = list_image_files(args.images)
            if not found:
                raise ValueError(f"no images in {args.images}")
            files += found
        if files:
            from core.cli.explain import load_model

            model = load_model(args.model)
            check_model_matches(index, model)
            found_queries, refused = image_queries(model, files, int(index.meta.get("views", 1)))
            queries += found_queries
        rows = search(index, queries, args.k)
    except (IndexFileError, UnknownIdError, ImageInputError, CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    for path, reason in refused:
        print(f"refused {path}: {reason}", file=sys.stderr)
    text = rows_csv(rows)
    if args.out:
        from core.atomic import write_bytes_atomic

        try:
            write_bytes_atomic(args.out, text.encode("utf-8"))
        except OSError as exc:
            print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return ExitCode.OUTPUT_FAILED
        print(f"{len(queries)} queries, {len(rows)} rows written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if refused:
        print(f"{len(refused)} of {len(queries) + len(refused)} queries refused (unusable images, listed above); "
              "the others were answered", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK
